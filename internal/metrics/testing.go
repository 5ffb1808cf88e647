package metrics

import (
	"bytes"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Gatherer gathers what a scrape of Handler returns, parsed back: tests
// read the daemon's metrics through it as a scraper would, families
// sorted by name.
func (m *Metrics) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		families, err := m.reg.Gather()
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := m.writeText(&b, families); err != nil {
			return nil, err
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		parsed, err := parser.TextToMetricFamilies(&b)
		if err != nil {
			return nil, err
		}
		families = families[:0]
		for _, mf := range parsed {
			families = append(families, mf)
		}
		slices.SortFunc(families, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return families, nil
	})
}

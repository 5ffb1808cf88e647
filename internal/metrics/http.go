package metrics

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics and /healthz. health returns what is wrong, one
// problem per entry; none means healthy.
func (m *Metrics) Handler(health func() []string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", m.serveMetrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		problems := health()
		if len(problems) == 0 {
			fmt.Fprintln(w, "ok")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "unhealthy:")
		fmt.Fprintln(w, strings.Join(problems, "\n"))
	})
	return mux
}

// serveMetrics answers a scrape in the text format, which every
// Prometheus-compatible scraper accepts whatever else it asked for,
// compressed if it takes gzip.
func (m *Metrics) serveMetrics(w http.ResponseWriter, r *http.Request) {
	families, err := m.reg.Gather()
	if err != nil {
		http.Error(w, "gather metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	w.Header().Set("Vary", "Accept-Encoding")
	out := io.Writer(w)
	if takesGzip(r.Header.Get("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		out = gz
	}
	// An error here is the scraper gone; nothing is left to tell it.
	_ = m.writeText(out, families)
}

// writeText writes the registry's families, then the task table's.
func (m *Metrics) writeText(w io.Writer, families []*dto.MetricFamily) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	for _, mf := range families {
		if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
			return err
		}
	}
	m.tasks.writeText(bw)
	return bw.Flush()
}

// takesGzip reports whether an Accept-Encoding header accepts gzip.
func takesGzip(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(coding) == "gzip" && strings.ReplaceAll(params, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

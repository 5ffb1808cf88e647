package extract

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestCIDRefs(t *testing.T) {
	for _, tc := range []struct {
		html string
		want []string
	}{
		{`<img src="cid:logo@x">`, []string{"logo@x"}},
		{`<IMG SRC='CID:Logo@X'>`, []string{"Logo@X"}},
		{`<img src=cid:a%40b>`, []string{"a%40b", "a@b"}},
		{`<a href="http://x">cid</a> style="color:red"`, nil},
		{"cid:" + strings.Repeat("y", 2*maxCIDLen), []string{strings.Repeat("y", maxCIDLen)}},
		{strings.Repeat(":", 100), nil},
	} {
		got := slices.Sorted(maps.Keys(cidRefs(tc.html)))
		if !slices.Equal(got, tc.want) {
			t.Errorf("cidRefs(%.40q) = %q, want %q", tc.html, got, tc.want)
		}
	}
}

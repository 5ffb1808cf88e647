package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReloadAddrIsOnThisMachine(t *testing.T) {
	for listen, want := range map[string]string{
		":9464":          "localhost:9464",
		"0.0.0.0:9464":   "localhost:9464",
		"[::]:9464":      "localhost:9464",
		"127.0.0.1:9464": "127.0.0.1:9464",
		"[::1]:9464":     "[::1]:9464",
		"localhost:9464": "localhost:9464",
	} {
		if got, err := reloadAddr(listen); err != nil || got != want {
			t.Errorf("reloadAddr(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
	for listen, want := range map[string]string{
		"":              "not set",
		"10.0.0.5:9464": `"10.0.0.5" is not a loopback address`,
	} {
		if _, err := reloadAddr(listen); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("reloadAddr(%q): %v; want an error saying %q", listen, err, want)
		}
	}
}

// POST /-/reload hands the reload to the daemon's main loop and answers
// with what became of it, to loopback peers alone; the rest is the
// metrics' handler's.
func TestReloadEndpoint(t *testing.T) {
	asks := make(chan reloadAsk, 1)
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := withReload(inner, asks)
	post := func(remote string, answer *reloadAnswer) *httptest.ResponseRecorder {
		t.Helper()
		if answer != nil {
			go func() { (<-asks) <- *answer }()
		}
		r := httptest.NewRequest(http.MethodPost, reloadPath, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := post("10.1.2.3:5555", nil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "loopback") {
		t.Errorf("from another machine: %d %q", w.Code, w.Body)
	}
	if w := post("127.0.0.1:5555", &reloadAnswer{summary: "configuration reloaded: 3 scheduled tasks"}); w.Code != http.StatusOK || w.Body.String() != "configuration reloaded: 3 scheduled tasks\n" {
		t.Errorf("applied: %d %q", w.Code, w.Body)
	}
	if w := post("[::1]:5555", &reloadAnswer{err: errors.New("conf.d/acme.toml: line 3: bad")}); w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "keeping the running one: conf.d/acme.toml: line 3") {
		t.Errorf("refused: %d %q", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusTeapot {
		t.Errorf("GET /metrics: %d, want the metrics' handler's answer", w.Code)
	}
}

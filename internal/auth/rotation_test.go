package auth_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// Environment of a refresher process (see TestMain).
const (
	envRefresher = "MAILTASK_TEST_REFRESHER"
	envStateDir  = "MAILTASK_TEST_STATE_DIR"
	envTokenURL  = "MAILTASK_TEST_TOKEN_URL"
	envClientID  = "MAILTASK_TEST_CLIENT_ID"
)

// TestMain lets the test binary act as a second mailtask process that
// shares the token store: with MAILTASK_TEST_REFRESHER=n it asks for a
// token n times and exits.
func TestMain(m *testing.M) {
	if n, err := strconv.Atoi(os.Getenv(envRefresher)); err == nil {
		os.Exit(refresher(n))
	}
	os.Exit(m.Run())
}

func refresher(n int) int {
	a := &config.Account{
		Name: "m365", Username: mailboxUser, Auth: config.AuthOAuth2, Timeout: config.Duration(10 * time.Second),
		OAuth2: &config.OAuth2{
			Provider: config.ProviderMicrosoft, Flow: config.FlowAuthorizationCode, Tenant: tenant,
			ClientID: os.Getenv(envClientID), TokenURL: os.Getenv(envTokenURL),
			Scopes: []string{config.ScopeMicrosoftIMAP, config.ScopeOfflineAccess},
		},
	}
	src, err := auth.NewSource(a, auth.Options{StateDir: os.Getenv(envStateDir)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := src.Token(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// TestTwoProcessesShareARotatingRefreshToken runs two processes that each
// renew the token many times, the IdP rotating the refresh token on every
// use and refusing the old one, as Microsoft may: the store's lock and
// its save-before-use make every renewal succeed.
func TestTwoProcessesShareARotatingRefreshToken(t *testing.T) {
	// Tokens living less than the reuse margin are renewed on every call.
	f := newFixture(t, fixtureOptions{idp: testmail.IdPOptions{AccessTTL: time.Minute}})
	f.signIn()
	const perProcess = 15
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var procs []*exec.Cmd
	var outputs []*strings.Builder
	for range 2 {
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			envRefresher+"="+strconv.Itoa(perProcess), envStateDir+"="+f.cfg.StateDir,
			envTokenURL+"="+f.acct.OAuth2.TokenURL, envClientID+"="+f.acct.OAuth2.ClientID)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		outputs = append(outputs, out)
	}
	for i, cmd := range procs {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d (pid %d): %v\n%s", i, cmd.Process.Pid, err, outputs[i])
		}
	}
	if got := f.idp.Requests("refresh_token"); got != 2*perProcess {
		t.Errorf("%d refreshes reached the IdP, want %d", got, 2*perProcess)
	}
	if _, err := f.source().Token(testCtx(t)); err != nil {
		t.Errorf("the refresh token left in the store: %v", err)
	}
}

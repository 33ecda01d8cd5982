package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Defaults of @pulumi/command 1.2.1's connection.
const (
	defaultUser           = "root"
	defaultPort           = 22
	defaultDialErrorLimit = 10
	defaultPerDialTimeout = 15 * time.Second
)

// Retry schedule between dial attempts: upstream uses the Pulumi SDK's retry.Until defaults
// (100 ms, times 1.5 after each attempt, at most 5 s).
var (
	retryDelay    = 100 * time.Millisecond
	retryBackoff  = 1.5
	retryMaxDelay = 5 * time.Second
)

func (c *connection) addr() string {
	port := defaultPort
	if c.Port != nil {
		port = int(*c.Port)
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

func (c *connection) dialErrorLimit() int {
	if c.DialErrorLimit != nil {
		return int(*c.DialErrorLimit)
	}
	return defaultDialErrorLimit
}

// perDialTimeout bounds one attempt: TCP connect plus SSH handshake. 0 means no bound.
func (c *connection) perDialTimeout() time.Duration {
	if c.PerDialTimeout != nil {
		return time.Duration(*c.PerDialTimeout * float64(time.Second))
	}
	return defaultPerDialTimeout
}

// permanentError ends the dial retries at once (a wrong host key does not fix itself).
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// hostKeyMismatch is returned when the server's host key is not connection.hostKey.
type hostKeyMismatch struct {
	addr      string
	got, want ssh.PublicKey
}

func (e *hostKeyMismatch) Error() string {
	return fmt.Sprintf("host key mismatch for %s: the server presented %s %s, but connection.hostKey is %s %s",
		e.addr, e.got.Type(), ssh.FingerprintSHA256(e.got), e.want.Type(), ssh.FingerprintSHA256(e.want))
}

// hostKeyAlgorithms are the algorithms the client offers when the host key is pinned: only those
// of the pinned key, so that a server with several host keys (the usual ed25519 + ecdsa + rsa)
// presents the pinned one. An RSA key may sign with SHA-2 (OpenSSH refuses ssh-rsa/SHA-1 since
// 8.8), so all three RSA signature algorithms are offered for it.
func hostKeyAlgorithms(k ssh.PublicKey) []string {
	if k.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{k.Type()}
}

// sshConfig builds the client config for one hop. The returned func releases the agent
// connection, if any; call it once the handshake is over.
func sshConfig(c *connection) (*ssh.ClientConfig, func(), error) {
	release := func() {}
	user := defaultUser
	if c.User != nil {
		user = *c.User
	}
	cfg := &ssh.ClientConfig{User: user, Timeout: c.perDialTimeout()}
	if c.HostKey != nil && *c.HostKey != "" {
		want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.HostKey))
		if err != nil {
			return nil, release, fmt.Errorf("parsing hostKey of %s (want \"<type> <base64> [comment]\"): %w", c.addr(), err)
		}
		addr := c.addr()
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(want)
		cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return permanentError{&hostKeyMismatch{addr: addr, got: got, want: want}}
		}
	} else {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // as upstream when hostKey is absent
	}
	if c.PrivateKey != nil {
		var signer ssh.Signer
		var err error
		if c.PrivateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.PrivateKey), []byte(*c.PrivateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.PrivateKey))
		}
		if err != nil {
			return nil, release, fmt.Errorf("parsing privateKey for %s: %w", c.addr(), err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.Password != nil {
		pw := *c.Password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, qs []string, _ []bool) ([]string, error) {
				ans := make([]string, len(qs))
				for i := range ans {
					ans[i] = pw
				}
				return ans, nil
			}))
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	if c.AgentSocketPath != nil {
		sock = *c.AgentSocketPath
	}
	if sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			if c.AgentSocketPath != nil {
				return nil, release, fmt.Errorf("connecting to the SSH agent at %s: %w", sock, err)
			}
			// An unusable SSH_AUTH_SOCK is ignored (upstream fails here).
		} else {
			cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
			release = func() { _ = conn.Close() }
		}
	}
	return cfg, release, nil
}

// handshake runs the SSH handshake over nc, closing nc if it does not finish by deadline (a
// server that accepts TCP but never answers would otherwise hang us) or if ctx ends.
func handshake(ctx context.Context, nc net.Conn, addr string, cfg *ssh.ClientConfig, deadline time.Time,
) (*ssh.Client, error) {
	var timedOut atomic.Bool
	stopCtx := context.AfterFunc(ctx, func() { _ = nc.Close() })
	defer stopCtx()
	if !deadline.IsZero() {
		t := time.AfterFunc(time.Until(deadline), func() {
			timedOut.Store(true)
			_ = nc.Close()
		})
		defer t.Stop()
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err == nil && (timedOut.Load() || ctx.Err() != nil) {
		_ = cc.Close()
		err = errors.New("connection closed")
	}
	if err != nil {
		_ = nc.Close()
		var perm permanentError
		switch {
		case ctx.Err() != nil:
			return nil, permanentError{ctx.Err()}
		case errors.As(err, &perm):
			return nil, perm
		case timedOut.Load():
			return nil, fmt.Errorf("ssh handshake with %s timed out (perDialTimeout %s)", addr, cfg.Timeout)
		}
		return nil, err
	}
	return ssh.NewClient(cc, chans, reqs), nil
}

// dialDirect connects to addr over TCP and logs in.
func dialDirect(ctx context.Context, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	var deadline time.Time
	if cfg.Timeout > 0 {
		deadline = time.Now().Add(cfg.Timeout)
	}
	dctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	nc, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, permanentError{ctx.Err()}
		}
		return nil, err
	}
	return handshake(ctx, nc, addr, cfg, deadline)
}

// dialVia connects to addr through the jump host's client and logs in.
func dialVia(ctx context.Context, jump *ssh.Client, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	var deadline time.Time
	if cfg.Timeout > 0 {
		deadline = time.Now().Add(cfg.Timeout)
	}
	dctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	nc, err := jump.DialContext(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, permanentError{ctx.Err()}
		}
		return nil, fmt.Errorf("opening a tunnel to %s: %w", addr, err)
	}
	return handshake(ctx, nc, addr, cfg, deadline)
}

// withRetry calls f until it succeeds, fails permanently, or has failed limit+1 times (limit -1:
// no limit), as upstream's dialErrorLimit ("max allowed errors"). Failures are reported to status.
func withRetry[T any](ctx context.Context, what string, limit int, status func(string), f func() (T, error),
) (T, error) {
	delay := retryDelay
	for attempt := 1; ; attempt++ {
		v, err := f()
		if err == nil {
			return v, nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			return v, fmt.Errorf("%s: %w", what, perm.error)
		}
		if limit >= 0 && attempt > limit {
			return v, fmt.Errorf("%s: giving up after %d failed attempts (dialErrorLimit %d): %w",
				what, attempt, limit, err)
		}
		of := "inf"
		if limit >= 0 {
			of = strconv.Itoa(limit + 1)
		}
		status(fmt.Sprintf("%s: attempt %d/%s failed (%v): retrying", what, attempt, of, err))
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(time.Duration(float64(delay)*retryBackoff), retryMaxDelay)
	}
}

// dial logs in to c, through c.proxy if set. Closing the returned client also closes the
// connection to the proxy.
func dial(ctx context.Context, c *connection, status func(string)) (*ssh.Client, error) {
	if c == nil || c.Host == "" {
		return nil, errors.New("connection.host is required")
	}
	cfg, release, err := sshConfig(c)
	defer release()
	if err != nil {
		return nil, err
	}
	addr := c.addr()
	if c.Proxy == nil {
		return withRetry(ctx, "dial "+addr, c.dialErrorLimit(), status, func() (*ssh.Client, error) {
			return dialDirect(ctx, addr, cfg)
		})
	}
	if c.Proxy.Host == "" {
		return nil, errors.New("connection.proxy.host is required")
	}
	pcfg, prelease, err := sshConfig(c.Proxy)
	defer prelease()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	paddr := c.Proxy.addr()
	jump, err := withRetry(ctx, "dial proxy "+paddr, c.Proxy.dialErrorLimit(), status, func() (*ssh.Client, error) {
		return dialDirect(ctx, paddr, pcfg)
	})
	if err != nil {
		return nil, err
	}
	client, err := withRetry(ctx, "dial "+addr+" via proxy "+paddr, c.dialErrorLimit(), status,
		func() (*ssh.Client, error) { return dialVia(ctx, jump, addr, cfg) })
	if err != nil {
		_ = jump.Close()
		return nil, err
	}
	go func() {
		_ = client.Wait()
		_ = jump.Close()
	}()
	return client, nil
}

// runRemote runs command in one SSH session (the server runs it with the user's login shell).
func runRemote(ctx context.Context, a *args, command string, env map[string]string, stdout, stderr io.Writer,
	status func(string),
) error {
	client, err := dial(ctx, a.Connection, status)
	if err != nil {
		return err
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return fmt.Errorf("opening an SSH session on %s: %w", a.Connection.addr(), err)
	}
	defer session.Close()
	for k, v := range env {
		if err := session.Setenv(k, v); err != nil {
			msg := fmt.Sprintf("could not set environment variable %q on %s (the SSH server must AcceptEnv it; "+
				"or prefix the command with VAR=value)", k, a.Connection.addr())
			if k == envStdout || k == envStderr {
				status("warning: " + msg) // best effort, as upstream
				continue
			}
			return fmt.Errorf("%s: %w", msg, err)
		}
	}
	if a.Stdin != nil && *a.Stdin != "" {
		session.Stdin = strings.NewReader(*a.Stdin)
	}
	session.Stdout, session.Stderr = stdout, stderr
	done := make(chan error, 1)
	go func() { done <- session.Run(command) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		_ = client.Close()
		<-done
		return ctx.Err()
	}
}

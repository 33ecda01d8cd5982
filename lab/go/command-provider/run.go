package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// run runs command locally or over SSH and returns its stdout and stderr, each without one
// trailing newline (as upstream). prevOut/prevErr go into PULUMI_COMMAND_STDOUT/STDERR unless
// addPreviousOutputInEnv is false. Output lines are forwarded to the engine as status messages
// according to `logging`.
func (p *provider) run(ctx context.Context, t, urn, command string, a *args, prevOut, prevErr string,
) (string, string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.cancelCtx, cancel)
	defer stop()

	mode := "stdoutAndStderr"
	if a.Logging != nil {
		mode = *a.Logging
	}
	status := func(s string) { p.log(ctx, urn, s) }
	ll := &lineLogger{fn: status}
	var outBuf, errBuf, both bytes.Buffer
	outW := []io.Writer{&outBuf, &both}
	errW := []io.Writer{&errBuf, &both}
	if mode == "stdout" || mode == "stdoutAndStderr" {
		outW = append(outW, ll)
	}
	if mode == "stderr" || mode == "stdoutAndStderr" {
		errW = append(errW, ll)
	}
	var mu sync.Mutex // the two streams share `both` and the logger
	stdout := lockedWriter{&mu, io.MultiWriter(outW...)}
	stderr := lockedWriter{&mu, io.MultiWriter(errW...)}
	env := map[string]string{}
	for k, v := range a.Environment {
		env[k] = v
	}
	if a.AddPreviousOutputInEnv == nil || *a.AddPreviousOutputInEnv {
		if prevOut != "" {
			env[envStdout] = prevOut
		}
		if prevErr != "" {
			env[envStderr] = prevErr
		}
	}
	var err error
	if t == tokRemote {
		err = runRemote(ctx, a, command, env, stdout, stderr, status)
	} else {
		err = runLocal(ctx, a, command, env, stdout, stderr)
	}
	ll.flush()
	if err != nil {
		return "", "", fmt.Errorf("%w: running %s:\n%s", err, abbreviate(command), both.String())
	}
	return strings.TrimSuffix(outBuf.String(), "\n"), strings.TrimSuffix(errBuf.String(), "\n"), nil
}

// abbreviate quotes a command for an error message; long ones (the node-prep command carries a
// whole script) are cut to their start.
func abbreviate(command string) string {
	const keep = 512
	if len(command) <= 2*keep {
		return fmt.Sprintf("%q", command)
	}
	return fmt.Sprintf("%q... (%d bytes in all)", command[:keep], len(command))
}

// lineLogger forwards complete lines to fn.
type lineLogger struct {
	mu  sync.Mutex
	buf bytes.Buffer
	fn  func(string)
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for {
		line, err := l.buf.ReadString('\n')
		if err != nil {
			l.buf.Reset()
			l.buf.WriteString(line)
			return len(b), nil
		}
		l.fn(strings.TrimRight(line, "\r\n"))
	}
}

func (l *lineLogger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len() > 0 {
		l.fn(l.buf.String())
		l.buf.Reset()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// runLocal runs command with `interpreter` (default /bin/sh -c) in `dir`.
func runLocal(ctx context.Context, a *args, command string, env map[string]string, stdout, stderr io.Writer) error {
	argv := []string{"/bin/sh", "-c"}
	if len(a.Interpreter) > 0 {
		argv = append([]string{}, a.Interpreter...)
	}
	argv = append(argv, command)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if a.Dir != nil {
		cmd.Dir = *a.Dir
	}
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if a.Stdin != nil {
		cmd.Stdin = strings.NewReader(*a.Stdin)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// endpoint is a connection (or proxy) to s with key auth, the key a secret as in the program.
func endpoint(s *testSSHD) resource.PropertyMap {
	return resource.PropertyMap{
		"host":       str("127.0.0.1"),
		"port":       resource.NewNumberProperty(float64(s.port)),
		"user":       str(s.user),
		"privateKey": secret(s.userKey.private),
	}
}

func remoteInputs(conn resource.PropertyMap, create string) resource.PropertyMap {
	return resource.PropertyMap{
		"connection": resource.NewObjectProperty(conn),
		"create":     str(create),
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error does not contain %q:\n%v", p, err)
		}
	}
	t.Logf("error (as expected): %.600s", err.Error())
}

func TestRemoteKeyAuthAndOutputs(t *testing.T) {
	s := startSSHD(t, testKey{})
	p := newTestProvider(t)
	state, err := create(t, p, tokRemote, remoteInputs(endpoint(s),
		`echo out; echo err >&2; echo "user=$(id -un)"`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stdoutOf(t, state), "out\nuser="+s.user; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if got := state["stderr"].StringValue(); got != "err" {
		t.Errorf("stderr = %q, want %q", got, "err")
	}
	if !state["connection"].IsSecret() {
		t.Errorf("connection is not a secret in state: %v", state["connection"])
	}
}

func TestRemoteNonZeroExit(t *testing.T) {
	s := startSSHD(t, testKey{})
	_, err := create(t, newTestProvider(t), tokRemote, remoteInputs(endpoint(s),
		"echo partial; echo boom >&2; exit 3"))
	wantErr(t, err, "Process exited with status 3", "boom", "partial", `running "echo partial`)
}

func TestRemoteHostKeyPinning(t *testing.T) {
	s := startSSHD(t, testKey{})
	p := newTestProvider(t)
	// The server has three host keys; pinning any one of them must work.
	for _, kind := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			c := endpoint(s)
			c["hostKey"] = str(s.hostKeys[kind].public)
			state, err := create(t, p, tokRemote, remoteInputs(c, "echo pinned"))
			if err != nil {
				t.Fatal(err)
			}
			if got := stdoutOf(t, state); got != "pinned" {
				t.Errorf("stdout = %q", got)
			}
		})
	}
	t.Run("wrong key is refused at once", func(t *testing.T) {
		for _, kind := range []string{"ed25519", "rsa"} {
			c := endpoint(s)
			c["hostKey"] = str(newKey(t, kind).public) // default dialErrorLimit: 10
			start := time.Now()
			_, err := create(t, p, tokRemote, remoteInputs(c, "echo must-not-run"))
			wantErr(t, err, "host key mismatch for "+s.addr(), "connection.hostKey is ssh-")
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("a host key mismatch took %s: it must not be retried", d)
			}
		}
	})
	t.Run("malformed key", func(t *testing.T) {
		c := endpoint(s)
		c["hostKey"] = str("ssh-ed25519 not-base64")
		_, err := create(t, p, tokRemote, remoteInputs(c, "echo must-not-run"))
		wantErr(t, err, "parsing hostKey of "+s.addr())
	})
}

func TestRemoteWrongUserKey(t *testing.T) {
	s := startSSHD(t, testKey{})
	c := endpoint(s)
	c["privateKey"] = secret(newKey(t, "ed25519").private)
	c["dialErrorLimit"] = resource.NewNumberProperty(1)
	_, err := create(t, newTestProvider(t), tokRemote, remoteInputs(c, "echo must-not-run"))
	wantErr(t, err, "dial "+s.addr(), "giving up after 2 failed attempts (dialErrorLimit 1)", "unable to authenticate")
}

func TestRemoteAgentAuth(t *testing.T) {
	s := startSSHD(t, testKey{})
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: mustRawKey(t, s.userKey)}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c) }()
		}
	}()
	t.Setenv("SSH_AUTH_SOCK", "")
	c := endpoint(s)
	delete(c, "privateKey")
	c["agentSocketPath"] = str(sock)
	state, err := create(t, newTestProvider(t), tokRemote, remoteInputs(c, "echo agent"))
	if err != nil {
		t.Fatal(err)
	}
	if got := stdoutOf(t, state); got != "agent" {
		t.Errorf("stdout = %q", got)
	}
}

func TestRemoteProxy(t *testing.T) {
	key := newKey(t, "ed25519")
	target := startSSHD(t, key)
	jump := startSSHD(t, key)
	noForwarding := startSSHD(t, key, "AllowTcpForwarding no")
	p := newTestProvider(t)
	via := func(j *testSSHD) resource.PropertyMap {
		c := endpoint(target)
		c["hostKey"] = str(target.hostKeys["ed25519"].public)
		pc := endpoint(j)
		pc["hostKey"] = str(j.hostKeys["ed25519"].public)
		c["proxy"] = resource.NewObjectProperty(pc)
		c["dialErrorLimit"] = resource.NewNumberProperty(0)
		return c
	}
	t.Run("through the jump host", func(t *testing.T) {
		state, err := create(t, p, tokRemote, remoteInputs(via(jump), "echo via-proxy"))
		if err != nil {
			t.Fatal(err)
		}
		if got := stdoutOf(t, state); got != "via-proxy" {
			t.Errorf("stdout = %q", got)
		}
	})
	t.Run("jump host refuses forwarding", func(t *testing.T) {
		// Proves the connection really goes through the proxy.
		_, err := create(t, p, tokRemote, remoteInputs(via(noForwarding), "echo must-not-run"))
		wantErr(t, err, "dial "+target.addr()+" via proxy "+noForwarding.addr(), "opening a tunnel")
	})
	t.Run("wrong proxy host key", func(t *testing.T) {
		c := via(jump)
		pc := c["proxy"].ObjectValue()
		pc["hostKey"] = str(newKey(t, "ed25519").public)
		_, err := create(t, p, tokRemote, remoteInputs(c, "echo must-not-run"))
		wantErr(t, err, "dial proxy "+jump.addr(), "host key mismatch for "+jump.addr())
	})
	t.Run("closed proxy port", func(t *testing.T) {
		c := via(jump)
		pc := c["proxy"].ObjectValue()
		pc["port"] = resource.NewNumberProperty(float64(freePort(t)))
		pc["dialErrorLimit"] = resource.NewNumberProperty(1)
		_, err := create(t, p, tokRemote, remoteInputs(c, "echo must-not-run"))
		wantErr(t, err, "dial proxy 127.0.0.1:", "giving up after 2 failed attempts", "connection refused")
	})
	t.Run("jump host closed with the target connection", func(t *testing.T) {
		a, err := decode(remoteInputs(via(jump), ""))
		if err != nil {
			t.Fatal(err)
		}
		before := countEstablished(t, jump.port)
		client, err := dial(context.Background(), a.Connection, func(s string) { t.Log(s) })
		if err != nil {
			t.Fatal(err)
		}
		if n := countEstablished(t, jump.port); n != before+1 {
			t.Fatalf("%d connections to the jump host while connected, want %d", n, before+1)
		}
		_ = client.Close()
		deadline := time.Now().Add(5 * time.Second)
		for countEstablished(t, jump.port) != before {
			if time.Now().After(deadline) {
				t.Fatal("the connection to the jump host stays open after the target's was closed")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// countEstablished counts our established TCP connections to 127.0.0.1:port (from /proc).
func countEstablished(t *testing.T, port int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Skip("no /proc/net/tcp")
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	n := 0
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		// local, remote, state (01 = ESTABLISHED): count the client side only
		if len(f) > 3 && f[2] == want && f[3] == "01" {
			n++
		}
	}
	return n
}

func TestRemoteDialErrorLimit(t *testing.T) {
	port := freePort(t) // nothing listens there
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := resource.PropertyMap{
		"host": str("127.0.0.1"), "port": resource.NewNumberProperty(float64(port)), "user": str("root"),
		"dialErrorLimit": resource.NewNumberProperty(2),
	}
	start := time.Now()
	_, err := create(t, newTestProvider(t), tokRemote, remoteInputs(c, "echo must-not-run"))
	wantErr(t, err, "dial "+addr+": giving up after 3 failed attempts (dialErrorLimit 2)", "connection refused")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("3 attempts took %s", d)
	}

	// A server that accepts TCP but never speaks SSH: perDialTimeout bounds the handshake too.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c["port"] = resource.NewNumberProperty(float64(l.Addr().(*net.TCPAddr).Port))
	c["dialErrorLimit"] = resource.NewNumberProperty(0)
	c["perDialTimeout"] = resource.NewNumberProperty(1)
	start = time.Now()
	_, err = create(t, newTestProvider(t), tokRemote, remoteInputs(c, "echo must-not-run"))
	wantErr(t, err, "giving up after 1 failed attempts (dialErrorLimit 0)", "timed out (perDialTimeout 1s)")
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("perDialTimeout 1 took %s", d)
	}
}

func TestRemoteLongCommand(t *testing.T) {
	s := startSSHD(t, testKey{})
	var b strings.Builder
	for i := 0; b.Len() < 60*1024; i++ {
		fmt.Fprintf(&b, "line %05d: the quick brown fox jumps over the lazy dog $HOME `x` 'q' \"d\" \\ %%\n", i)
	}
	text := b.String()
	sum := sha256.Sum256([]byte(text))
	command := "sha256sum <<'KVS_EOF'\n" + text + "KVS_EOF\n"
	if len(command) < 60*1024 {
		t.Fatalf("command is only %d bytes", len(command))
	}
	p := newTestProvider(t)
	state, err := create(t, p, tokRemote, remoteInputs(endpoint(s), command))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stdoutOf(t, state), hex.EncodeToString(sum[:])+"  -"; got != want {
		t.Errorf("the command arrived changed: sha256sum printed %q, want %q", got, want)
	}
	// A failing long command: the error quotes only the start of the command.
	_, err = create(t, p, tokRemote, remoteInputs(endpoint(s), command+"echo failed >&2; exit 4\n"))
	wantErr(t, err, "Process exited with status 4", "failed", "bytes in all")
	if len(err.Error()) > 4096 {
		t.Errorf("the error is %d bytes long", len(err.Error()))
	}
}

func TestRemoteEnvironment(t *testing.T) {
	s := startSSHD(t, testKey{}, "AcceptEnv KVS_*")
	p := newTestProvider(t)
	in := remoteInputs(endpoint(s), `echo "a=$KVS_A"`)
	in["environment"] = resource.NewObjectProperty(resource.PropertyMap{"KVS_A": str("x y")})
	state, err := create(t, p, tokRemote, in)
	if err != nil {
		t.Fatal(err)
	}
	if got := stdoutOf(t, state); got != "a=x y" {
		t.Errorf("stdout = %q", got)
	}
	in["environment"] = resource.NewObjectProperty(resource.PropertyMap{"OTHER": str("1")})
	_, err = create(t, p, tokRemote, in)
	wantErr(t, err, `could not set environment variable "OTHER" on `+s.addr(), "AcceptEnv")
}

// The node-prep lifecycle: create, an update where only the command texts change, delete from
// the stored state alone.
func TestRemoteUpdateAndDeleteFromState(t *testing.T) {
	s := startSSHD(t, testKey{}, "AcceptEnv PULUMI_COMMAND_*")
	p := newTestProvider(t)
	ctx := context.Background()
	journal := filepath.Join(t.TempDir(), "journal")
	in1 := remoteInputs(endpoint(s), "echo create-v1 >> "+journal+"; echo out-v1")
	in1["update"] = str(`echo "update-v1 prev=$PULUMI_COMMAND_STDOUT" >> ` + journal + "; echo out-v1u")
	in1["delete"] = str("echo delete-v1 >> " + journal)
	state1, err := create(t, p, tokRemote, in1)
	if err != nil {
		t.Fatal(err)
	}

	in2 := in1.Copy()
	in2["create"] = str("echo create-v2 >> " + journal + "; echo out-v2")
	in2["update"] = str(`echo "update-v2 prev=$PULUMI_COMMAND_STDOUT" >> ` + journal + "; echo out-v2u")
	in2["delete"] = str("echo delete-v2 >> " + journal)
	diff, err := p.Diff(ctx, &pulumirpc.DiffRequest{Urn: testURN(tokRemote), Type: tokRemote,
		Olds: toStruct(t, state1), OldInputs: toStruct(t, inputsOf(state1)), News: toStruct(t, in2)})
	if err != nil {
		t.Fatal(err)
	}
	if diff.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(diff.GetReplaces()) != 0 {
		t.Fatalf("diff = %v, want an update without replacement", diff)
	}
	if got := strings.Join(diff.GetDiffs(), ","); got != "create,delete,update" {
		t.Errorf("diffs = %s", got)
	}

	up, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN(tokRemote), Type: tokRemote,
		Olds: toStruct(t, state1), OldInputs: toStruct(t, inputsOf(state1)), News: toStruct(t, in2)})
	if err != nil {
		t.Fatal(err)
	}
	state2 := fromStruct(t, up.GetProperties())
	if got := stdoutOf(t, state2); got != "out-v2u" {
		t.Errorf("stdout after update = %q", got)
	}
	if !state2["connection"].IsSecret() {
		t.Error("connection is not a secret in state after update")
	}

	// Delete gets the state only: it must run the delete text stored by the update.
	if _, err := p.Delete(ctx, &pulumirpc.DeleteRequest{Urn: testURN(tokRemote), Type: tokRemote,
		Id: "x", Properties: toStruct(t, state2)}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "create-v1\nupdate-v2 prev=out-v1\ndelete-v2\n"; got != want {
		t.Errorf("the commands that ran:\n%s\nwant:\n%s", got, want)
	}
}

// Nothing runs during preview, not even a dial: the host below does not exist.
func TestRemotePreviewRunsNothing(t *testing.T) {
	p := newTestProvider(t)
	ctx := context.Background()
	c := resource.PropertyMap{"host": str("192.0.2.1"), "port": resource.NewNumberProperty(22),
		"privateKey": secret("not a key")}
	in := remoteInputs(c, "echo must-not-run")
	start := time.Now()
	cr, err := p.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN(tokRemote), Type: tokRemote,
		Properties: toStruct(t, in), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	out := fromStruct(t, cr.GetProperties())
	if !out["stdout"].IsComputed() || !out["stderr"].IsComputed() {
		t.Errorf("preview create: stdout/stderr = %v/%v, want unknown", out["stdout"], out["stderr"])
	}
	if !out["connection"].IsSecret() {
		t.Error("preview create: connection is not secret")
	}
	state := inputsOf(out)
	state["stdout"], state["stderr"] = str("old"), str("")
	in2 := in.Copy()
	in2["create"] = str("echo changed")
	ur, err := p.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN(tokRemote), Type: tokRemote,
		Olds: toStruct(t, state), News: toStruct(t, in2), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	out = fromStruct(t, ur.GetProperties())
	if !out["stdout"].IsComputed() {
		t.Errorf("preview update: stdout = %v, want unknown", out["stdout"])
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("previews took %s: did they dial?", d)
	}
}

package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const sshdPath = "/usr/sbin/sshd"

// testKey is a generated key pair: the private key in OpenSSH PEM form and the public key as
// an authorized_keys line (what connection.hostKey takes).
type testKey struct {
	signer  ssh.Signer
	private string
	public  string
}

func newKey(t *testing.T, kind string) testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch kind {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("unknown key kind %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "kvs-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{
		signer:  signer,
		private: string(pem.EncodeToMemory(block)),
		public:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " kvs-test",
	}
}

// testSSHD is a throwaway OpenSSH server on 127.0.0.1 with its own config, three host keys
// (ed25519, ecdsa, rsa: like a stock Debian server) and one authorized user key. It logs in
// the user running the tests; the system sshd_config is never read.
type testSSHD struct {
	dir      string
	port     int
	user     string
	hostKeys map[string]testKey // by kind
	userKey  testKey
	logFile  string
}

func (s *testSSHD) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// log returns what sshd wrote so far (for failure messages).
func (s *testSSHD) log() string {
	b, _ := os.ReadFile(s.logFile)
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD starts sshd with extra config lines and stops it when the test ends. userKey may be
// a zero testKey, for a fresh one.
func startSSHD(t *testing.T, userKey testKey, extra ...string) *testSSHD {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("%s not found (apt-get install openssh-server)", sshdPath)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid == "0" {
		// Privilege separation needs this directory when sshd runs as root (Debian makes it at boot).
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if userKey.signer == nil {
		userKey = newKey(t, "ed25519")
	}
	s := &testSSHD{dir: t.TempDir(), port: freePort(t), user: u.Username, hostKeys: map[string]testKey{},
		userKey: userKey}
	s.logFile = filepath.Join(s.dir, "sshd.log")
	cfg := []string{
		"Port " + strconv.Itoa(s.port),
		"ListenAddress 127.0.0.1",
		"PidFile none",
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no", // the temp dir may sit below a world-writable dir
		"UsePAM no",
		"LogLevel VERBOSE",
		"AllowUsers " + s.user,
	}
	for _, kind := range []string{"ed25519", "ecdsa", "rsa"} {
		k := newKey(t, kind)
		s.hostKeys[kind] = k
		f := filepath.Join(s.dir, "host_"+kind)
		if err := os.WriteFile(f, []byte(k.private), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg = append(cfg, "HostKey "+f)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "authorized_keys"), []byte(userKey.public+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, extra...)
	conf := filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sshdPath, "-t", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("sshd rejects the test config: %v\n%s", err, out)
	}
	logf, err := os.Create(s.logFile)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("sshd log (%s):\n%s", s.addr(), s.log())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr(), time.Second)
		if err == nil {
			_ = c.Close()
			return s
		}
		select {
		case <-exited:
			t.Fatalf("sshd exited:\n%s", s.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s within 10 s:\n%s", s.addr(), s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustRawKey parses the key back into a crypto key (for the agent keyring).
func mustRawKey(t *testing.T, k testKey) any {
	t.Helper()
	raw, err := ssh.ParseRawPrivateKey([]byte(k.private))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Command pulumi-language-nodejs is a small Node.js language host for the Pulumi engine,
// written for the kubevirt-sriov lab toolchain because the upstream pulumi-language-nodejs module is
// not served by the module proxy available here. It runs programs, plugins and policy packs through
// the npm SDK's own entry points (@pulumi/pulumi/cmd/run, cmd/run-plugin, cmd/run-policy-pack).
// lab/toolchain.sh builds it; lab/TOOLCHAIN.md says what it does not do.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags -X main.version=...
var version = "3.248.0"

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	tracing := fs.String("tracing", "", "tracing endpoint (passed to the Node SDK)")
	runtimeName := fs.String("runtime", "nodejs", "only nodejs is supported")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Bool("logtostderr", false, "ignored")
	fs.Bool("logflow", false, "ignored")
	fs.Int("v", 0, "ignored")
	fs.String("root", "", "ignored")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *showVersion {
		fmt.Println(version)
		return
	}
	if *runtimeName != "nodejs" {
		fmt.Fprintf(os.Stderr, "unsupported runtime %q\n", *runtimeName)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancelCtx, cancel := context.WithCancel(context.Background())
	h := &host{tracing: *tracing, cancelCtx: cancelCtx, cancel: cancel}
	if fs.NArg() > 0 {
		h.engineAddress = fs.Arg(0)
		// Exit when the engine goes away.
		if err := rpcutil.Healthcheck(ctx, h.engineAddress, 5*time.Minute, stop); err != nil {
			fmt.Fprintf(os.Stderr, "health check: %v\n", err)
			os.Exit(1)
		}
	}
	done := make(chan bool)
	go func() {
		<-ctx.Done()
		close(done)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start language host: %v\n", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%d\n", handle.Port)
	_ = w.Flush()
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language host stopped: %v\n", err)
		os.Exit(1)
	}
}

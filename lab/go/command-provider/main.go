// Command pulumi-resource-command is a small "command" resource provider for the kubevirt-sriov
// lab toolchain, written because the upstream pulumi-command provider module is not served by the
// module proxy available here. It implements the resources of the @pulumi/command 1.2.x SDK
// that the project uses:
//
//	command:local:Command, command:remote:Command and the command:local:run function
//
// with the same property names and the same create/update/delete/triggers semantics.
// lab/toolchain.sh builds it; see lab/TOOLCHAIN.md for what differs from upstream.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags -X main.version=...
var version = "1.2.1"

func main() {
	fs := flag.NewFlagSet(os.Args[0], flag.ContinueOnError)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.String("tracing", "", "ignored")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p := newProvider(ctx)
	if fs.NArg() > 0 {
		conn, err := grpc.NewClient(fs.Arg(0), grpc.WithTransportCredentials(insecure.NewCredentials()),
			rpcutil.GrpcChannelOptions())
		if err != nil {
			fmt.Fprintf(os.Stderr, "connecting to engine: %v\n", err)
			os.Exit(1)
		}
		p.engine = pulumirpc.NewEngineClient(conn)
	}
	done := make(chan bool)
	go func() {
		<-ctx.Done()
		close(done)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, p)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "could not start provider: %v\n", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "%d\n", handle.Port)
	_ = w.Flush()
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "provider stopped: %v\n", err)
		os.Exit(1)
	}
}

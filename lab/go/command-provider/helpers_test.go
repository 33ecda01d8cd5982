package main

import (
	"context"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func testURN(t string) string { return "urn:pulumi:test::proj::" + t + "::cmd" }

func newTestProvider(t *testing.T) *provider {
	t.Helper()
	p := newProvider(context.Background())
	p.logf = func(s string) { t.Log("status: " + s) }
	return p
}

func toStruct(t *testing.T, m resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := plugin.MarshalProperties(m, marshalOpts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fromStruct(t *testing.T, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	m, err := unmarshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func str(s string) resource.PropertyValue { return resource.NewStringProperty(s) }

func secret(s string) resource.PropertyValue { return resource.MakeSecret(str(s)) }

// create calls Create as the engine does for a new resource (not a preview).
func create(t *testing.T, p *provider, typ string, inputs resource.PropertyMap) (resource.PropertyMap, error) {
	t.Helper()
	resp, err := p.Create(context.Background(), &pulumirpc.CreateRequest{
		Urn: testURN(typ), Name: "cmd", Type: typ, Properties: toStruct(t, inputs),
	})
	if err != nil {
		return nil, err
	}
	if resp.GetId() == "" {
		t.Fatal("Create returned no ID")
	}
	return fromStruct(t, resp.GetProperties()), nil
}

// inputsOf returns the inputs part of a state (what the engine keeps as the resource's inputs).
func inputsOf(state resource.PropertyMap) resource.PropertyMap {
	in := state.Copy()
	for k := range outputKeys {
		delete(in, k)
	}
	return in
}

func stdoutOf(t *testing.T, state resource.PropertyMap) string {
	t.Helper()
	v := state["stdout"]
	if !v.IsString() {
		t.Fatalf("stdout is %v, want a string", v)
	}
	return v.StringValue()
}

package main

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

const (
	tokLocal  = "command:local:Command"
	tokRemote = "command:remote:Command"
	tokRun    = "command:local:run"
	envStdout = "PULUMI_COMMAND_STDOUT"
	envStderr = "PULUMI_COMMAND_STDERR"
)

// outputKeys are the properties the provider computes; they never take part in a diff.
var outputKeys = map[resource.PropertyKey]bool{"stdout": true, "stderr": true, "assets": true, "archive": true}

// connection is command:remote's connection (and, nested, its proxy), as in @pulumi/command 1.2.1.
type connection struct {
	Host               string      `json:"host"`
	Port               *float64    `json:"port"`
	User               *string     `json:"user"`
	Password           *string     `json:"password"`
	PrivateKey         *string     `json:"privateKey"`
	PrivateKeyPassword *string     `json:"privateKeyPassword"`
	AgentSocketPath    *string     `json:"agentSocketPath"`
	DialErrorLimit     *float64    `json:"dialErrorLimit"`
	PerDialTimeout     *float64    `json:"perDialTimeout"`
	HostKey            *string     `json:"hostKey"`
	Proxy              *connection `json:"proxy"`
}

// args are the inputs of all three tokens, plus the outputs kept in state.
type args struct {
	Create                 *string           `json:"create"`
	Update                 *string           `json:"update"`
	Delete                 *string           `json:"delete"`
	Command                *string           `json:"command"` // local:run
	Stdin                  *string           `json:"stdin"`
	Logging                *string           `json:"logging"`
	Environment            map[string]string `json:"environment"`
	AddPreviousOutputInEnv *bool             `json:"addPreviousOutputInEnv"`
	Interpreter            []string          `json:"interpreter"`
	Dir                    *string           `json:"dir"`
	AssetPaths             []string          `json:"assetPaths"`
	ArchivePaths           []string          `json:"archivePaths"`
	Connection             *connection       `json:"connection"`
	Stdout                 string            `json:"stdout"`
	Stderr                 string            `json:"stderr"`
}

var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	return plugin.UnmarshalProperties(s, marshalOpts)
}

// plain strips secret and output wrappers, recursively.
func plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return plain(v.SecretValue().Element)
	case v.IsOutput():
		return plain(v.OutputValue().Element)
	case v.IsArray():
		arr := make([]resource.PropertyValue, len(v.ArrayValue()))
		for i, e := range v.ArrayValue() {
			arr[i] = plain(e)
		}
		return resource.NewArrayProperty(arr)
	case v.IsObject():
		return resource.NewObjectProperty(plainMap(v.ObjectValue()))
	}
	return v
}

func plainMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

func decode(m resource.PropertyMap) (*args, error) {
	b, err := json.Marshal(plainMap(m).Mappable())
	if err != nil {
		return nil, err
	}
	var a args
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("invalid inputs: %w", err)
	}
	return &a, nil
}

// outputs builds the new state: the inputs plus stdout/stderr (unknown during preview, when
// stdout is nil). A remote command's connection is always a secret in state.
func outputs(inputs resource.PropertyMap, t string, stdout, stderr *string) (*structpb.Struct, error) {
	out := inputs.Copy()
	for k := range outputKeys {
		delete(out, k)
	}
	if stdout == nil {
		out["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		out["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	} else {
		out["stdout"] = resource.NewStringProperty(*stdout)
		out["stderr"] = resource.NewStringProperty(*stderr)
	}
	if c, ok := out["connection"]; ok && t == tokRemote && !c.IsSecret() {
		out["connection"] = resource.MakeSecret(c)
	}
	return plugin.MarshalProperties(out, marshalOpts)
}

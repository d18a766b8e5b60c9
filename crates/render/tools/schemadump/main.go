package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

type field struct {
	Ref      string   `json:"ref,omitempty"`
	Items    string   `json:"items,omitempty"`
	Addl     string   `json:"addl,omitempty"`
	Type     string   `json:"type,omitempty"`
	Strategy string   `json:"strategy,omitempty"`
	Keys     []string `json:"keys,omitempty"`
}

func refName(r spec.Ref) string {
	s := r.String()
	return strings.TrimPrefix(s, "#/definitions/")
}

func main() {
	s := openapi.Schema()
	out := map[string]map[string]field{}
	gvks := map[string]string{}
	for name, def := range s.Definitions {
		props := map[string]field{}
		for pname, p := range def.Properties {
			f := field{}
			if len(p.Type) > 0 {
				f.Type = p.Type[0]
			}
			f.Ref = refName(p.Ref)
			if p.Items != nil && p.Items.Schema != nil {
				f.Items = refName(p.Items.Schema.Ref)
				if f.Items == "" && len(p.Items.Schema.Type) > 0 {
					f.Items = "@" + p.Items.Schema.Type[0]
				}
			}
			if p.AdditionalProperties != nil && p.AdditionalProperties.Schema != nil {
				f.Addl = refName(p.AdditionalProperties.Schema.Ref)
				if f.Addl == "" && len(p.AdditionalProperties.Schema.Type) > 0 {
					f.Addl = "@" + p.AdditionalProperties.Schema.Type[0]
				}
			}
			if v, ok := p.Extensions["x-kubernetes-patch-strategy"]; ok {
				f.Strategy = v.(string)
			}
			if v, ok := p.Extensions["x-kubernetes-list-map-keys"]; ok {
				for _, k := range v.([]interface{}) {
					f.Keys = append(f.Keys, k.(string))
				}
			} else if v, ok := p.Extensions["x-kubernetes-patch-merge-key"]; ok {
				f.Keys = []string{v.(string)}
			}
			props[pname] = f
		}
		if def.AdditionalProperties != nil {
			fmt.Fprintln(os.Stderr, "def with addl:", name)
		}
		out[name] = props
		if v, ok := def.Extensions["x-kubernetes-group-version-kind"]; ok {
			for _, g := range v.([]interface{}) {
				m := g.(map[string]interface{})
				gv := m["version"].(string)
				if m["group"].(string) != "" {
					gv = m["group"].(string) + "/" + gv
				}
				gvks[gv+" "+m["kind"].(string)] = name
			}
		}
	}
	keys := []string{}
	for k := range gvks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"defs": out, "gvks": gvks})
}

// Command gotemplate is the differential oracle for flotilla-template: it
// renders Go text/template templates with Sprig (as Argo CD enables it) or
// Helm's function map, exactly as those tools do, and prints the output or
// the error.
//
// Input: JSON lines on stdin (or a file named by the first argument), one
// request per line:
//
//	{"id": "x", "name": "t", "template": "{{ .a }}", "data": {"a": 1},
//	 "options": ["missingkey=error"], "funcs": "builtins|sprig|argocd|helm",
//	 "templates": {"other": "{{define ...}}"}}
//
// Output: one JSON line per request, in order:
//
//	{"id": "x", "output": "1", "error": null}
//
// Data is decoded with encoding/json into interface{} (numbers are float64),
// which is what Argo CD hands to text/template and what Helm's
// sigs.k8s.io/yaml value decoding produces. time.Local is UTC so date
// functions are deterministic.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type request struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Template  string            `json:"template"`
	Data      json.RawMessage   `json:"data"`
	Options   []string          `json:"options"`
	Funcs     string            `json:"funcs"`
	Templates map[string]string `json:"templates"`
}

type response struct {
	ID     string  `json:"id"`
	Output string  `json:"output"`
	Error  *string `json:"error"`
}

// sprigArgoCD is the function map of Argo CD's ApplicationSet controller
// (applicationset/utils): Sprig's generic map without env, expandenv and
// getHostByName, plus normalize, toYaml, fromYaml and fromYamlArray.
func sprigArgoCD(extras bool) template.FuncMap {
	f := sprig.GenericFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	delete(f, "getHostByName")
	if extras {
		f["normalize"] = sanitizeName
		f["toYaml"] = argoToYAML
		f["fromYaml"] = argoFromYAML
		f["fromYamlArray"] = argoFromYAMLArray
	}
	return template.FuncMap(f)
}

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// sanitizeName is Argo CD's `normalize`.
func sanitizeName(name string) string {
	name = strings.ToLower(name)
	name = invalidDNSNameChars.ReplaceAllString(name, "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

func argoToYAML(v interface{}) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func argoFromYAML(str string) (map[string]interface{}, error) {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func argoFromYAMLArray(str string) ([]interface{}, error) {
	var a []interface{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		return nil, err
	}
	return a, nil
}

// Helm's additions (helm.sh/helm/v3 pkg/engine/funcs.go), reimplemented
// the same way.
func helmToYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func helmFromYAML(str string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func helmFromYAMLArray(str string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func helmToJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func helmFromJSON(str string) map[string]interface{} {
	m := make(map[string]interface{})
	if err := json.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func helmFromJSONArray(str string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(str), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

const recursionMaxNums = 1000

// includeFun and tplFun follow Helm's engine.go.
func includeFun(t *template.Template, includedNames map[string]int) func(string, interface{}) (string, error) {
	return func(name string, data interface{}) (string, error) {
		var buf strings.Builder
		if v, ok := includedNames[name]; ok {
			if v > recursionMaxNums {
				return "", fmt.Errorf("rendering template has a nested reference name: %s: %w", name, errors.New("unable to execute template"))
			}
			includedNames[name]++
		} else {
			includedNames[name] = 1
		}
		err := t.ExecuteTemplate(&buf, name, data)
		includedNames[name]--
		return buf.String(), err
	}
}

func tplFun(parent *template.Template, includedNames map[string]int, options []string) func(string, interface{}) (string, error) {
	return func(tpl string, vals interface{}) (string, error) {
		t, err := parent.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		for _, o := range options {
			t.Option(o)
		}
		t.Funcs(template.FuncMap{
			"include": includeFun(t, includedNames),
			"tpl":     tplFun(t, includedNames, options),
		})
		t, err = t.New(parent.Name()).Parse(tpl)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", tpl, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", tpl, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
}

func helmFuncs(t *template.Template, options []string) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml":        helmToYAML,
		"fromYaml":      helmFromYAML,
		"fromYamlArray": helmFromYAMLArray,
		"toJson":        helmToJSON,
		"fromJson":      helmFromJSON,
		"fromJsonArray": helmFromJSONArray,
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		"getHostByName": func(string) string { return "" },
	}
	for k, v := range extra {
		f[k] = v
	}
	includedNames := make(map[string]int)
	f["include"] = includeFun(t, includedNames)
	f["tpl"] = tplFun(t, includedNames, options)
	// Helm wraps these messages in markers that its error reporting strips;
	// the message itself is what a user sees.
	f["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(warn)
		} else if _, ok := val.(string); ok {
			if val == "" {
				return val, errors.New(warn)
			}
		}
		return val, nil
	}
	f["fail"] = func(msg string) (string, error) {
		return "", errors.New(msg)
	}
	return f
}

func render(req request) (out string, errp *string) {
	defer func() {
		if r := recover(); r != nil {
			s := fmt.Sprintf("panic: %v", r)
			out, errp = "", &s
		}
	}()
	fail := func(err error) (string, *string) {
		s := err.Error()
		return "", &s
	}
	name := req.Name
	var data interface{}
	if len(req.Data) > 0 {
		if err := json.Unmarshal(req.Data, &data); err != nil {
			return fail(fmt.Errorf("oracle: bad data: %w", err))
		}
	}
	t := template.New(name)
	switch req.Funcs {
	case "", "builtins":
	case "sprig":
		t.Funcs(sprigArgoCD(false))
	case "argocd":
		t.Funcs(sprigArgoCD(true))
	case "helm":
		t.Funcs(helmFuncs(t, req.Options))
	default:
		return fail(fmt.Errorf("oracle: unknown funcs %q", req.Funcs))
	}
	for _, o := range req.Options {
		t.Option(o)
	}
	names := make([]string, 0, len(req.Templates))
	for n := range req.Templates {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := t.New(n).Parse(req.Templates[n]); err != nil {
			return fail(err)
		}
	}
	if _, err := t.Parse(req.Template); err != nil {
		return fail(err)
	}
	var buf strings.Builder
	if err := t.Execute(&buf, data); err != nil {
		return fail(err)
	}
	return buf.String(), nil
}

func main() {
	time.Local = time.UTC
	var in io.Reader = os.Stdin
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			s := "oracle: bad request: " + err.Error()
			_ = enc.Encode(response{Error: &s})
			continue
		}
		out, errp := render(req)
		_ = enc.Encode(response{ID: req.ID, Output: out, Error: errp})
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

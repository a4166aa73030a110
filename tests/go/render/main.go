// Command render is the reference for Airlock's template engine: it renders templates the way
// acr-builder does (templating/engine.go): Go's text/template with Sprig's functions, b64enc
// replaced by acr-builder's, missingkey=zero, then every "<no value>" removed.
//
// Input on stdin: a JSON list of {"template": "...", "data": {...}}. The data is decoded with
// gopkg.in/yaml.v2, as acr-builder decodes values files, so integers stay integers.
// Output on stdout: a JSON list, one entry per case: {"output": "..."} or
// {"error": "...", "kind": "parse"|"exec"}.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	yaml "gopkg.in/yaml.v2"
)

type request struct {
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
}

type result struct {
	Output *string `json:"output,omitempty"`
	Error  string  `json:"error,omitempty"`
	Kind   string  `json:"kind,omitempty"`
}

func b64enc(v interface{}) string {
	if v == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(reflect.ValueOf(v).String()))
}

func render(req request) (res result) {
	defer func() {
		if r := recover(); r != nil {
			res = result{Error: fmt.Sprint(r), Kind: "exec"}
		}
	}()
	data := map[string]interface{}{}
	if len(req.Data) > 0 {
		if err := yaml.Unmarshal(req.Data, &data); err != nil {
			return result{Error: "bad data: " + err.Error(), Kind: "data"}
		}
	}
	funcs := sprig.TxtFuncMap()
	funcs["b64enc"] = b64enc
	t := template.New("_").Option("missingkey=zero")
	t = t.New("t").Funcs(funcs)
	if _, err := t.Parse(req.Template); err != nil {
		return result{Error: err.Error(), Kind: "parse"}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "t", data); err != nil {
		return result{Error: err.Error(), Kind: "exec"}
	}
	out := strings.ReplaceAll(buf.String(), "<no value>", "")
	return result{Output: &out}
}

func main() {
	var reqs []request
	if err := json.NewDecoder(os.Stdin).Decode(&reqs); err != nil {
		fmt.Fprintln(os.Stderr, "render: bad input:", err)
		os.Exit(2)
	}
	results := make([]result, len(reqs))
	for i, req := range reqs {
		results[i] = render(req)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(2)
	}
}

// Command render is the reference for Airlock's template engine: it renders templates the way
// acr-builder does (templating/engine.go): Go's text/template with Sprig's functions, b64enc
// replaced by acr-builder's, missingkey=zero, then every "<no value>" removed.
//
// Where Debian's Sprig (v3) differs from the v2.22 that acr-builder pins, the v2 functions are
// put back (sprigV2 below, from Sprig v2.22's numeric.go and strings.go): v2 reads numbers in
// strings as base-10 only and its trunc takes no negative count.
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
	"math"
	"os"
	"reflect"
	"strconv"
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

// toInt64 is Sprig v2's: strings are base-10, anything else by its kind.
func toInt64(v interface{}) int64 {
	if str, ok := v.(string); ok {
		iv, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return 0
		}
		return iv
	}
	val := reflect.Indirect(reflect.ValueOf(v))
	switch val.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return val.Int()
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return int64(val.Uint())
	case reflect.Uint, reflect.Uint64:
		tv := val.Uint()
		if tv <= math.MaxInt64 {
			return int64(tv)
		}
		return math.MaxInt64
	case reflect.Float32, reflect.Float64:
		return int64(val.Float())
	case reflect.Bool:
		if val.Bool() {
			return 1
		}
		return 0
	default:
		return 0
	}
}

// toFloat64 is Sprig v2's.
func toFloat64(v interface{}) float64 {
	if str, ok := v.(string); ok {
		iv, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return 0
		}
		return iv
	}
	val := reflect.Indirect(reflect.ValueOf(v))
	switch val.Kind() {
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return float64(val.Int())
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint, reflect.Uint64:
		return float64(val.Uint())
	case reflect.Float32, reflect.Float64:
		return val.Float()
	case reflect.Bool:
		if val.Bool() {
			return 1
		}
		return 0
	default:
		return 0
	}
}

func sprigV2(funcs template.FuncMap) {
	funcs["int64"] = toInt64
	funcs["int"] = func(v interface{}) int { return int(toInt64(v)) }
	funcs["float64"] = toFloat64
	funcs["add1"] = func(i interface{}) int64 { return toInt64(i) + 1 }
	funcs["add"] = func(i ...interface{}) int64 {
		var a int64
		for _, b := range i {
			a += toInt64(b)
		}
		return a
	}
	funcs["sub"] = func(a, b interface{}) int64 { return toInt64(a) - toInt64(b) }
	funcs["div"] = func(a, b interface{}) int64 { return toInt64(a) / toInt64(b) }
	funcs["mod"] = func(a, b interface{}) int64 { return toInt64(a) % toInt64(b) }
	funcs["mul"] = func(a interface{}, v ...interface{}) int64 {
		val := toInt64(a)
		for _, b := range v {
			val = val * toInt64(b)
		}
		return val
	}
	max := func(a interface{}, i ...interface{}) int64 {
		aa := toInt64(a)
		for _, b := range i {
			if bb := toInt64(b); bb > aa {
				aa = bb
			}
		}
		return aa
	}
	funcs["max"] = max
	funcs["biggest"] = max
	funcs["min"] = func(a interface{}, i ...interface{}) int64 {
		aa := toInt64(a)
		for _, b := range i {
			if bb := toInt64(b); bb < aa {
				aa = bb
			}
		}
		return aa
	}
	funcs["floor"] = func(a interface{}) float64 { return math.Floor(toFloat64(a)) }
	funcs["ceil"] = func(a interface{}) float64 { return math.Ceil(toFloat64(a)) }
	funcs["trunc"] = func(c int, s string) string {
		if len(s) <= c {
			return s
		}
		return s[0:c]
	}
	// Not in v2: refuse them at parse time as acr-builder does.
	for _, name := range v3Only {
		delete(funcs, name)
	}
}

var v3Only = []string{
	"add1f", "addf", "all", "any", "bcrypt", "chunk", "dig", "divf", "duration",
	"durationRound", "fromJson", "genCAWithKey", "genSelfSignedCertWithKey",
	"genSignedCertWithKey", "get", "htpasswd", "maxf", "minf", "mulf", "mustAppend",
	"mustChunk", "mustCompact", "mustDateModify", "mustDeepCopy", "mustFirst", "mustFromJson",
	"mustHas", "mustInitial", "mustLast", "mustMerge", "mustMergeOverwrite", "mustPrepend",
	"mustRegexFind", "mustRegexFindAll", "mustRegexMatch", "mustRegexReplaceAll",
	"mustRegexReplaceAllLiteral", "mustRegexSplit", "mustRest", "mustReverse", "mustSlice",
	"mustToDate", "mustToJson", "mustToPrettyJson", "mustToRawJson", "mustUniq",
	"mustWithout", "must_date_modify", "osBase", "osClean", "osDir", "osExt", "osIsAbs",
	"randBytes", "randInt", "regexQuoteMeta", "seq", "subf", "toRawJson",
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
	// As in acr-builder, each map at the root (.Values, .Secrets, .Run) is a
	// map[string]interface{}; maps deeper down stay as yaml.v2 made them.
	for key, value := range data {
		if inner, ok := value.(map[interface{}]interface{}); ok {
			converted := make(map[string]interface{}, len(inner))
			for k, v := range inner {
				converted[fmt.Sprint(k)] = v
			}
			data[key] = converted
		}
	}
	funcs := sprig.TxtFuncMap()
	funcs["b64enc"] = b64enc
	sprigV2(funcs)
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

// chart-render renders a Helm chart directory the way `helm template` does, for the features this
// project's chart uses, so the chart can be verified on machines that have no helm binary. It is
// built from Debian's Go packages: Go's text/template, sprig v3 (the template function library
// helm uses) and ghodss/yaml (the YAML↔JSON wrapper that helm's sigs.k8s.io/yaml was forked from).
// It is a verification tool, not a helm replacement: README.md lists what it leaves out.
//
//	chart-render [NAME] CHART_DIR [-n NS] [-f values.yaml]... [--set k=v]... [--set-string k=v]...
//	             [--include-crds] [--kube-version v1.20.2] [--api-versions group/version]...
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/ghodss/yaml"
)

type options struct {
	releaseName string
	namespace   string
	chartDir    string
	valueFiles  []string
	sets        []string
	setStrings  []string
	includeCRDs bool
	kubeVersion string
	apiVersions []string
}

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err == nil {
		var out string
		out, err = render(opts)
		if err == nil {
			_, err = os.Stdout.WriteString(out)
		}
	}
	if err != nil {
		// One line, as a caller reading stderr expects: Go's template errors can span several.
		fmt.Fprintf(os.Stderr, "Error: %s\n", strings.Join(strings.Fields(err.Error()), " "))
		os.Exit(1)
	}
}

// --- command line ------------------------------------------------------------------------------

// parseArgs accepts flags before, between and after the positional arguments, as helm does
// (Go's flag package stops at the first positional one).
func parseArgs(args []string) (options, error) {
	opts := options{releaseName: "release-name", namespace: "default", kubeVersion: "v1.20.0"}
	type flagDef struct {
		boolean bool
		set     func(string) error
	}
	appendTo := func(list *[]string) func(string) error {
		return func(v string) error { *list = append(*list, v); return nil }
	}
	assign := func(s *string) func(string) error {
		return func(v string) error { *s = v; return nil }
	}
	flags := map[string]flagDef{
		"-n":             {set: assign(&opts.namespace)},
		"--namespace":    {set: assign(&opts.namespace)},
		"-f":             {set: appendTo(&opts.valueFiles)},
		"--values":       {set: appendTo(&opts.valueFiles)},
		"--set":          {set: appendTo(&opts.sets)},
		"--set-string":   {set: appendTo(&opts.setStrings)},
		"--kube-version": {set: assign(&opts.kubeVersion)},
		"-a":             {set: appendTo(&opts.apiVersions)},
		"--api-versions": {set: appendTo(&opts.apiVersions)},
		"--include-crds": {boolean: true, set: func(v string) error {
			b, err := strconv.ParseBool(v)
			opts.includeCRDs = b
			return err
		}},
	}
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			positional = append(positional, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg, "=")
		def, ok := flags[name]
		if !ok {
			return opts, fmt.Errorf("unknown flag %s (see deploy/helm/render/README.md)", name)
		}
		if def.boolean && !hasValue {
			value = "true"
		} else if !hasValue {
			if i+1 >= len(args) {
				return opts, fmt.Errorf("flag %s needs a value", name)
			}
			i++
			value = args[i]
		}
		if err := def.set(value); err != nil {
			return opts, fmt.Errorf("flag %s: %w", name, err)
		}
	}
	switch len(positional) {
	case 1:
		opts.chartDir = positional[0]
	case 2:
		opts.releaseName, opts.chartDir = positional[0], positional[1]
	default:
		return opts, errors.New("usage: chart-render [NAME] CHART_DIR [-n NS] [-f FILE]... [--set K=V]... [--set-string K=V]... [--include-crds] [--kube-version V] [--api-versions G/V]...")
	}
	return opts, nil
}

// --- the chart ---------------------------------------------------------------------------------

// chartMetadata is Chart.yaml, exposed as .Chart with helm's field names (.Chart.AppVersion, …).
type chartMetadata struct {
	APIVersion  string            `json:"apiVersion"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	KubeVersion string            `json:"kubeVersion,omitempty"`
	Description string            `json:"description,omitempty"`
	Type        string            `json:"type,omitempty"`
	Keywords    []string          `json:"keywords,omitempty"`
	Home        string            `json:"home,omitempty"`
	Sources     []string          `json:"sources,omitempty"`
	Icon        string            `json:"icon,omitempty"`
	AppVersion  string            `json:"appVersion,omitempty"`
	Deprecated  bool              `json:"deprecated,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func loadChartMetadata(dir string) (*chartMetadata, error) {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var meta chartMetadata
	if err := yaml.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	if meta.Name == "" || meta.Version == "" {
		return nil, errors.New("Chart.yaml: name and version are required")
	}
	if meta.APIVersion != "v2" {
		return nil, fmt.Errorf("Chart.yaml: apiVersion %q is not supported (only v2)", meta.APIVersion)
	}
	return &meta, nil
}

// kubeVersion and apiVersions are .Capabilities' parts, with the methods templates call.
type kubeVersion struct{ Version, Major, Minor string }

func (k kubeVersion) String() string     { return k.Version }
func (k kubeVersion) GitVersion() string { return k.Version }

type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions apiVersions
}

// The built-in group/versions of a Kubernetes 1.20 API server (the lab's), plus --api-versions.
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "batch/v1beta1", "autoscaling/v1", "autoscaling/v2beta2",
	"policy/v1beta1", "rbac.authorization.k8s.io/v1", "coordination.k8s.io/v1",
	"apiextensions.k8s.io/v1", "networking.k8s.io/v1", "events.k8s.io/v1",
	"storage.k8s.io/v1", "scheduling.k8s.io/v1", "admissionregistration.k8s.io/v1",
}

func newCapabilities(version string, extra []string) (*capabilities, error) {
	m := regexp.MustCompile(`^v?(\d+)\.(\d+)(\.\d+)?$`).FindStringSubmatch(version)
	if m == nil {
		return nil, fmt.Errorf("--kube-version %q is not a version like v1.20.2", version)
	}
	v := "v" + strings.TrimPrefix(version, "v")
	return &capabilities{
		KubeVersion: kubeVersion{Version: v, Major: m[1], Minor: m[2]},
		APIVersions: append(append(apiVersions{}, defaultAPIVersions...), extra...),
	}, nil
}

// --- values ------------------------------------------------------------------------------------

// readValues parses YAML as helm does (YAML → JSON → map), so numbers are float64 as in helm.
func readValues(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// mergeMaps: b over a, recursively for maps; the order of -f files.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if om, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(om, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce puts the chart's defaults under the user's values; a user null removes a default.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	for k, dv := range defaults {
		uv, present := user[k]
		switch {
		case !present:
			user[k] = dv
		case uv == nil:
			delete(user, k)
		default:
			um, uok := uv.(map[string]interface{})
			dm, dok := dv.(map[string]interface{})
			if uok && dok {
				user[k] = coalesce(um, dm)
			}
		}
	}
	return user
}

func loadValues(opts options) (map[string]interface{}, error) {
	defaults := map[string]interface{}{}
	if _, err := os.Stat(filepath.Join(opts.chartDir, "values.yaml")); err == nil {
		d, err := readValues(filepath.Join(opts.chartDir, "values.yaml"))
		if err != nil {
			return nil, err
		}
		defaults = d
	}
	user := map[string]interface{}{}
	for _, f := range opts.valueFiles {
		v, err := readValues(f)
		if err != nil {
			return nil, err
		}
		user = mergeMaps(user, v)
	}
	for _, s := range opts.sets {
		if err := parseSet(s, user, false); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	for _, s := range opts.setStrings {
		if err := parseSet(s, user, true); err != nil {
			return nil, fmt.Errorf("--set-string %s: %w", s, err)
		}
	}
	return coalesce(user, defaults), nil
}

// parseSet applies one --set argument: `a.b=v,c[0]=w,d={x,y}`, backslash escapes any character.
func parseSet(s string, into map[string]interface{}, asString bool) error {
	for _, pair := range splitUnescaped(s, ',', true) {
		if pair == "" {
			continue
		}
		parts := splitUnescaped(pair, '=', false)
		if len(parts) < 2 {
			return fmt.Errorf("key %q has no value", unescape(pair))
		}
		key, raw := parts[0], strings.Join(parts[1:], "=")
		path, err := parseKey(key)
		if err != nil {
			return err
		}
		var value interface{}
		if !asString && strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
			list := []interface{}{}
			for _, item := range splitUnescaped(raw[1:len(raw)-1], ',', false) {
				list = append(list, typedValue(unescape(item), false))
			}
			value = list
		} else {
			value = typedValue(unescape(raw), asString)
		}
		if err := setPath(into, path, value); err != nil {
			return err
		}
	}
	return nil
}

// splitUnescaped splits on sep where it is neither escaped nor (with braces) inside {…};
// escapes stay in the parts for the next split.
func splitUnescaped(s string, sep rune, braces bool) []string {
	var parts []string
	var cur strings.Builder
	depth := 0
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case braces && r == '{':
			depth++
		case braces && r == '}' && depth > 0:
			depth--
		case r == sep && depth == 0:
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	return append(parts, cur.String())
}

func unescape(s string) string {
	var b strings.Builder
	escaped := false
	for _, r := range s {
		if !escaped && r == '\\' {
			escaped = true
			continue
		}
		escaped = false
		b.WriteRune(r)
	}
	return b.String()
}

// typedValue is helm's strvals typing: true/false, null, integers without a leading zero.
func typedValue(v string, asString bool) interface{} {
	if asString {
		return v
	}
	switch strings.ToLower(v) {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	case "0":
		return int64(0)
	}
	if v != "" && v[0] != '0' {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return v
}

type keySegment struct {
	name    string
	indices []int
}

var indexPattern = regexp.MustCompile(`^([^\[\]]*)((?:\[\d+\])*)$`)

func parseKey(key string) ([]keySegment, error) {
	var path []keySegment
	for _, raw := range splitUnescaped(key, '.', false) {
		m := indexPattern.FindStringSubmatch(raw)
		if m == nil || m[1] == "" {
			return nil, fmt.Errorf("cannot parse key %q", unescape(key))
		}
		seg := keySegment{name: unescape(m[1])}
		for _, idx := range regexp.MustCompile(`\d+`).FindAllString(m[2], -1) {
			n, _ := strconv.Atoi(idx)
			if n > 65535 {
				return nil, fmt.Errorf("index %d is too large", n)
			}
			seg.indices = append(seg.indices, n)
		}
		path = append(path, seg)
	}
	return path, nil
}

func setPath(m map[string]interface{}, path []keySegment, value interface{}) error {
	seg, rest := path[0], path[1:]
	if len(seg.indices) > 0 {
		list, _ := m[seg.name].([]interface{})
		updated, err := setInList(list, seg.indices, rest, value)
		m[seg.name] = updated
		return err
	}
	if len(rest) == 0 {
		m[seg.name] = value
		return nil
	}
	child, ok := m[seg.name].(map[string]interface{})
	if !ok {
		child = map[string]interface{}{}
		m[seg.name] = child
	}
	return setPath(child, rest, value)
}

func setInList(list []interface{}, indices []int, rest []keySegment, value interface{}) ([]interface{}, error) {
	i := indices[0]
	for len(list) <= i {
		list = append(list, nil)
	}
	if len(indices) > 1 {
		inner, _ := list[i].([]interface{})
		updated, err := setInList(inner, indices[1:], rest, value)
		list[i] = updated
		return list, err
	}
	if len(rest) == 0 {
		list[i] = value
		return list, nil
	}
	child, ok := list[i].(map[string]interface{})
	if !ok {
		child = map[string]interface{}{}
		list[i] = child
	}
	return list, setPath(child, rest, value)
}

// --- template functions ------------------------------------------------------------------------

const maxIncludeDepth = 1000

// funcMap is sprig's (less env/expandenv, as in helm) plus helm's own functions.
func funcMap(t *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	depth := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > maxIncludeDepth {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, vals map[string]interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		name := "tpl"
		if tmpl, ok := vals["Template"].(map[string]interface{}); ok {
			if n, ok := tmpl["Name"].(string); ok {
				name = n
			}
		}
		if _, err := clone.New(name).Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf strings.Builder
		if err := clone.ExecuteTemplate(&buf, name, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(message string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(message)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(message)
		}
		return val, nil
	}
	f["fail"] = func(message string) (string, error) { return "", errors.New(message) }
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil // helm template has no cluster either
	}
	f["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return "" // helm swallows errors here too
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	return f
}

// --- rendering ---------------------------------------------------------------------------------

// installOrder is helm's kind order for its output (unknown kinds last, by kind name).
var installOrder = []string{
	"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy",
	"PodDisruptionBudget", "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass",
	"PersistentVolume", "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList",
	"RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod", "ReplicationController",
	"ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob",
	"IngressClass", "Ingress", "APIService",
}

var documentSeparator = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

type manifest struct {
	source  string
	content string
	kind    string
}

// head is what helm reads of each document; a document that does not parse fails the render.
type head struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind,omitempty"`
	Metadata   *struct {
		Name string `json:"name"`
	} `json:"metadata,omitempty"`
}

func render(opts options) (string, error) {
	meta, err := loadChartMetadata(opts.chartDir)
	if err != nil {
		return "", err
	}
	values, err := loadValues(opts)
	if err != nil {
		return "", err
	}
	caps, err := newCapabilities(opts.kubeVersion, opts.apiVersions)
	if err != nil {
		return "", err
	}
	sources, err := readTree(filepath.Join(opts.chartDir, "templates"), meta.Name+"/templates")
	if err != nil {
		return "", err
	}

	t := template.New("gotpl").Option("missingkey=zero")
	t.Funcs(funcMap(t))
	names := make([]string, 0, len(sources))
	for name := range sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := t.New(name).Parse(sources[name]); err != nil {
			return "", err
		}
	}

	release := map[string]interface{}{
		"Name": opts.releaseName, "Namespace": opts.namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	var manifests []manifest
	for _, name := range names {
		base := path.Base(name)
		if strings.HasPrefix(base, "_") || strings.EqualFold(base, "NOTES.txt") {
			continue
		}
		vals := map[string]interface{}{
			"Values":       values,
			"Release":      release,
			"Chart":        meta,
			"Capabilities": caps,
			"Template":     map[string]interface{}{"Name": name, "BasePath": meta.Name + "/templates"},
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			return "", err
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, doc := range documentSeparator.Split(strings.TrimSpace(out), -1) {
			doc = strings.TrimSpace(doc)
			if doc == "" {
				continue
			}
			var h head
			if err := yaml.Unmarshal([]byte(doc), &h); err != nil {
				return "", fmt.Errorf("YAML parse error on %s: %w", name, err)
			}
			manifests = append(manifests, manifest{source: name, content: doc, kind: h.Kind})
		}
	}
	sortByKind(manifests)

	var b strings.Builder
	if opts.includeCRDs {
		crds, err := readTree(filepath.Join(opts.chartDir, "crds"), meta.Name+"/crds")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		crdNames := make([]string, 0, len(crds))
		for name := range crds {
			crdNames = append(crdNames, name)
		}
		sort.Strings(crdNames)
		for _, name := range crdNames {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", name, crds[name])
		}
	}
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	return b.String(), nil
}

func sortByKind(ms []manifest) {
	rank := make(map[string]int, len(installOrder))
	for i, k := range installOrder {
		rank[k] = i
	}
	sort.SliceStable(ms, func(i, j int) bool {
		ri, iok := rank[ms[i].kind]
		rj, jok := rank[ms[j].kind]
		switch {
		case !iok && !jok:
			return ms[i].kind < ms[j].kind
		case !iok:
			return false
		case !jok:
			return true
		}
		return ri < rj
	})
}

// readTree returns every file under dir, keyed by prefix + its slash-separated relative path.
func readTree(dir, prefix string) (map[string]string, error) {
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[prefix+"/"+filepath.ToSlash(rel)] = string(data)
		return nil
	})
	return files, err
}

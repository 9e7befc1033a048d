// Validates Kubernetes manifests offline, without a cluster:
//
//   node validate_manifests.mjs [--keel-node=BIN] WORK_DIR FILE.yaml...
//
// WORK_DIR holds node_modules with the exact packages of package.json beside this file
// (k8s_manifests_test.sh installs them there with `npm ci`). Each YAML document is checked
//
// 1. against its kind's JSON schema: the validators of kubernetes-models (4.5.1: it has
//    Kubernetes 1.32's fields), generated with ajv from the Kubernetes API's OpenAPI
//    document: types, required fields, enums and formats (int32, quantities,
//    int-or-string);
// 2. for unknown fields, which those schemas let pass but the API server drops or refuses
//    (a misspelt field is otherwise silently lost): the document is written out as a
//    TypeScript object literal of the kind's interface from the same package, and the
//    TypeScript compiler's excess-property check names the field the API does not have
//    (one a document at a time);
// 3. across documents, for what the schemas cannot see: a workload's selector that does
//    not match its pod template's labels (the API server refuses it), a Service or
//    PodDisruptionBudget that selects no pod template, a named port or probe port that no
//    container declares, a StatefulSet whose serviceName is no headless Service, and a
//    $(VAR) in an env value or an argument that no earlier env entry defines (Kubernetes
//    leaves it as it is); a kustomization's resources, against the files beside it;
// 4. with --keel-node, each KEEL_* variable given to a container must be one that
//    `keel-node --help` lists, and a keel-node container's terminationGracePeriodSeconds
//    must leave room for its graceful leave.
//
// Prints one line per problem, `FILE#N KIND/NAME PATH: message`, and exits 1 when there is
// any; prints `N documents valid` and exits 0 otherwise.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
let keelNode = null;
while (args.length && args[0].startsWith("--")) {
  const flag = args.shift();
  if (flag.startsWith("--keel-node=")) keelNode = flag.slice("--keel-node=".length);
  else throw new Error(`unknown flag ${flag}`);
}
const [workDir, ...files] = args;
if (!workDir || files.length === 0) {
  console.error("usage: node validate_manifests.mjs [--keel-node=BIN] WORK_DIR FILE.yaml...");
  process.exit(2);
}
const modules = path.resolve(workDir, "node_modules");
const load = (rel) => import(pathToFileURL(path.join(modules, rel)).href);
const YAML = (await load("yaml/dist/index.js")).default;

const problems = [];  // [label, message]: printed grouped by document
const report = (doc, where, message) =>
  problems.push([doc.label, `${doc.label}${where ? " " + where : ""}: ${message}`]);

// Every document of every file, with a label for messages.
const docs = [];
for (const file of files) {
  const parsed = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  parsed.forEach((d, i) => {
    const label0 = `${file}#${i + 1}`;
    if (d.errors.length) {
      for (const e of d.errors) problems.push([label0, `${label0}: YAML: ${e.message}`]);
      return;
    }
    const object = d.toJS();
    if (object === null || object === undefined) return;  // an empty document
    const name = object?.metadata?.name ?? "?";
    docs.push({ file, object, label: `${label0} ${object.kind ?? "?"}/${name}` });
  });
}

// A kustomization (kubectl apply -k) is no API object: its resources must be files beside
// it, every manifest given from its directory must be among them, and each image it
// renames must be one a container uses.
const kustomizations = docs.filter((d) => d.object.kind === "Kustomization");
for (const doc of kustomizations) {
  const dir = path.dirname(path.resolve(doc.file));
  const listed = (doc.object.resources ?? []).map((r) => path.resolve(dir, r));
  (doc.object.resources ?? []).forEach((r, i) => {
    if (!existsSync(listed[i])) report(doc, `/resources/${i}`, `${r} does not exist`);
  });
  for (const f of new Set(docs.map((d) => path.resolve(d.file))))
    if (f !== path.resolve(doc.file) && path.dirname(f) === dir && !listed.includes(f))
      report(doc, "/resources", `${path.basename(f)} is not listed`);
  const used = docs.flatMap((d) =>
    (d.object.spec?.template?.spec?.containers ?? []).map((c) => String(c.image).split(":")[0]));
  (doc.object.images ?? []).forEach((img, i) => {
    if (!used.includes(img.name)) report(doc, `/images/${i}`, `no container uses image "${img.name}"`);
  });
}

// 1. The schema of each kind.
for (const doc of docs) {
  if (kustomizations.includes(doc)) continue;
  const { apiVersion, kind } = doc.object;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    report(doc, "", "no apiVersion or kind");
    continue;
  }
  // Core kinds are under v1/, the others under their group: apps/v1/StatefulSet.
  doc.module = `kubernetes-models/${apiVersion}`;
  let model;
  try {
    model = (await load(`${doc.module}/${kind}.mjs`))[kind];
  } catch {
    model = undefined;
  }
  if (!model) {
    report(doc, "", `no schema for ${apiVersion} ${kind} (not a built-in Kubernetes kind)`);
    continue;
  }
  doc.kind = kind;
  try {
    new model(doc.object).validate();
  } catch (e) {
    if (!e.errors) throw e;
    doc.schemaFailed = true;
    for (const err of e.errors) {
      const detail = err.params?.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : "";
      report(doc, err.instancePath || "/", `${err.message}${detail}`);
    }
  }
}

// 2. Unknown fields: TypeScript's excess-property check against the kind's interface.
// Each document becomes one file, one field a line, so that a line names its field path.
function render(value) {
  const lines = [];
  const paths = [];
  const walk = (v, at, indent, head, tail) => {
    const pad = " ".repeat(indent);
    if (v !== null && typeof v === "object") {
      const list = Array.isArray(v);
      const entries = list ? v.map((x, i) => [i, x]) : Object.entries(v);
      const [open, close] = list ? ["[", "]"] : ["{", "}"];
      if (entries.length === 0) {
        lines.push(pad + head + open + close + tail);
        paths.push(at);
        return;
      }
      lines.push(pad + head + open);
      paths.push(at);
      entries.forEach(([k, x], i) => {
        const key = list ? "" : JSON.stringify(k) + ": ";
        const sub = `${at}/${k}`;
        walk(x, sub, indent + 2, key, i < entries.length - 1 ? "," : "");
      });
      lines.push(pad + close + tail);
      paths.push(at);
    } else {
      lines.push(pad + head + JSON.stringify(v) + tail);
      paths.push(at);
    }
  };
  walk(value, "", 0, "", ";");
  return { lines, paths };
}
const typed = docs.filter((d) => d.kind);
if (typed.length) {
  const tsDir = path.resolve(workDir, "typecheck");
  rmSync(tsDir, { recursive: true, force: true });
  mkdirSync(tsDir, { recursive: true });
  const HEADER_LINES = 2;
  typed.forEach((doc, i) => {
    const { lines, paths } = render(doc.object);
    doc.tsFile = `doc${i}.ts`;
    doc.paths = paths;
    writeFileSync(
      path.join(tsDir, doc.tsFile),
      `import type { I${doc.kind} as Kind } from "${doc.module}";\n` +
        `export const doc: Kind =\n` +
        lines.join("\n") +
        "\n",
    );
  });
  writeFileSync(
    path.join(tsDir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        skipLibCheck: true,
        types: [],
        typeRoots: [],
      },
      files: typed.map((d) => d.tsFile),
    }),
  );
  let out = "";
  try {
    execFileSync(
      process.execPath,
      [path.join(modules, "typescript/bin/tsc"), "-p", tsDir, "--pretty", "false"],
      { cwd: path.resolve(workDir), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
  } catch (e) {
    out = `${e.stdout ?? ""}${e.stderr ?? ""}`;
    if (!out.trim()) throw e;
  }
  const byFile = new Map(typed.map((d) => [d.tsFile, d]));
  for (const line of out.split("\n")) {
    if (!line.trim() || line.startsWith(" ")) continue;
    const m = line.match(/^(?:.*[\\/])?(doc\d+\.ts)\((\d+),(\d+)\): error (TS\d+): (.*)$/);
    const doc = m && byFile.get(m[1]);
    if (!doc) {
      problems.push(["~", `typescript: ${line}`]);
      continue;
    }
    const at = doc.paths[Number(m[2]) - HEADER_LINES - 1] ?? "";
    // TS2353 "Object literal may only specify known properties, and '"nme"' does not
    // exist in type 'IContainerPort'". TypeScript names one unknown field of a document
    // at a time: the next shows once that one is fixed.
    const unknown = m[5].match(/'"?([^'"]+)"?' does not exist in type '([^']+)'/);
    if (unknown) {
      report(doc, at || "/", `unknown field "${unknown[1]}" (not in ${unknown[2]})`);
    } else if (!doc.schemaFailed) {
      // A type error the schema check let pass: report it; otherwise it repeats one.
      report(doc, at || "/", `${m[4]}: ${m[5]}`);
    }
  }
}

// 3. Across documents.
const podTemplates = [];  // {doc, labels, spec}
for (const doc of docs) {
  const o = doc.object;
  if (["StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind)) {
    const labels = o.spec?.template?.metadata?.labels ?? {};
    podTemplates.push({ doc, labels, spec: o.spec?.template?.spec ?? {} });
    const match = o.spec?.selector?.matchLabels ?? {};
    for (const [k, v] of Object.entries(match))
      if (labels[k] !== v)
        report(doc, "/spec/selector/matchLabels", `${k}=${v} is not a label of the pod template`);
  }
}
const selects = (selector, labels) =>
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const containerPorts = (spec) =>
  (spec.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name).filter(Boolean));
for (const doc of docs) {
  const o = doc.object;
  if (o.kind === "Service" && o.spec?.selector) {
    const pods = podTemplates.filter((t) => selects(o.spec.selector, t.labels));
    if (pods.length === 0) report(doc, "/spec/selector", "selects no pod template");
    (o.spec.ports ?? []).forEach((p, i) => {
      if (typeof p.targetPort === "string" && !pods.some((t) => containerPorts(t.spec).includes(p.targetPort)))
        report(doc, `/spec/ports/${i}/targetPort`, `no container port is named "${p.targetPort}"`);
    });
  }
  if (o.kind === "PodDisruptionBudget" &&
      !podTemplates.some((t) => selects(o.spec?.selector?.matchLabels ?? {}, t.labels)))
    report(doc, "/spec/selector", "selects no pod template");
  if (o.kind === "StatefulSet") {
    const service = docs.find(
      (d) => d.object.kind === "Service" && d.object.metadata?.name === o.spec?.serviceName,
    );
    if (!service || service.object.spec?.clusterIP !== "None")
      report(doc, "/spec/serviceName", `"${o.spec?.serviceName}" is no headless Service here`);
  }
}
for (const { doc, spec } of podTemplates) {
  const base = "/spec/template/spec";
  const ports = containerPorts(spec);
  (spec.containers ?? []).forEach((c, ci) => {
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
      if (typeof port === "string" && !ports.includes(port))
        report(doc, `${base}/containers/${ci}/${probe}`, `no container port is named "${port}"`);
    }
    const defined = [];
    const refs = (text, at) => {
      for (const [, name] of String(text).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
        if (!defined.includes(name))
          report(doc, at, `$(${name}) is defined by no env entry before it: it stays as it is`);
    };
    (c.env ?? []).forEach((e, ei) => {
      if (e.value !== undefined) refs(e.value, `${base}/containers/${ci}/env/${ei}`);
      defined.push(e.name);
    });
    (c.args ?? []).forEach((a, ai) => refs(a, `${base}/containers/${ci}/args/${ai}`));
    (c.command ?? []).forEach((a, ai) => refs(a, `${base}/containers/${ci}/command/${ai}`));
  });
}

// 4. keel-node's own flags.
if (keelNode) {
  const help = execFileSync(keelNode, ["--help"], { encoding: "utf8" });
  const known = new Set(help.match(/KEEL_[A-Z0-9_]+/g) ?? []);
  const seconds = (text) => {
    const m = String(text).match(/^(\d+)(ms|s|m|h)?$/);
    if (!m) return null;
    const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? "ms"];
    return Number(m[1]) * scale;
  };
  for (const { doc, spec } of podTemplates) {
    (spec.containers ?? []).forEach((c, ci) => {
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
      (c.env ?? []).forEach((e, ei) => {
        if (e.name.startsWith("KEEL_") && !known.has(e.name))
          report(doc, `/spec/template/spec/containers/${ci}/env/${ei}`,
                 `${e.name} is not a variable of keel-node (--help lists none such)`);
      });
      if (!Object.keys(env).some((k) => k.startsWith("KEEL_"))) return;
      // SIGTERM: the leave, the requests in flight (request timeout + 1 s), the peers'
      // calls (10 s at most); docs/operations.md, "Stopping".
      const leave = seconds(env.KEEL_LEAVE_TIMEOUT ?? "1m");
      const request = seconds(env.KEEL_REQUEST_TIMEOUT ?? "5s");
      const grace = spec.terminationGracePeriodSeconds ?? 30;
      if (leave !== null && request !== null && grace < leave + request + 1 + 10)
        report(doc, "/spec/template/spec/terminationGracePeriodSeconds",
               `${grace} s is shorter than a graceful leave may take ` +
               `(${leave} s + ${request + 1} s + 10 s)`);
    });
  }
}

// Grouped by file and document, in the order found within one.
const order = (label) => {
  const m = label.match(/^(.*)#(\d+)/);
  return m ? [m[1], Number(m[2])] : [label, 0];
};
problems.sort((a, b) => {
  const [fa, na] = order(a[0]);
  const [fb, nb] = order(b[0]);
  return fa < fb ? -1 : fa > fb ? 1 : na - nb;
});
for (const [, p] of problems) console.log(p);
if (problems.length) {
  console.log(`${problems.length} problem(s) in ${docs.length} documents`);
  process.exit(1);
}
console.log(`${docs.length} documents valid`);

// The house has no circle: within each crate, no module reaches (through `crate::`, `super::`
// or `self::` paths in code, not comments) a module that reaches it back. A circle is where a
// change in one file forces a change in another and back; issue 27 took the last ones out
// (the sandbox's ids, the hooks' signing secrets) and this check keeps them out. Modules are
// files (a folder's `mod.rs` is the folder). Between crates, the flow is drawn below (FLOW):
// the core, then the native library, then the hosts on it (the command line and the server,
// neither depending on the other); a crate's own dependencies (not its dev-dependencies, which
// tests may take from anywhere) stay within it; and the command line's dependency tree holds no
// server or hyper stack (cargo tree). Run by npm test.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const crates = ['src', 'console/src', 'native/src', 'cli/src', 'sandbox/src', 'server/src', 'xlsx/src'];

/** Which workspace crates each crate may depend on (normal dependencies, any target). */
const FLOW = {
  '.': [],
  console: ['.'],
  xlsx: ['.'],
  sandbox: ['.'],
  native: ['.', 'xlsx'],
  cli: ['.', 'native'],
  server: ['.', 'native', 'sandbox'],
};

/** Every .rs file under `dir`. */
const files = (dir) => readdirSync(dir).flatMap((name) => {
  const path = join(dir, name);
  return statSync(path).isDirectory() ? files(path) : path.endsWith('.rs') ? [path] : [];
});

/** A file's module path: `src/run/mod.rs` -> `run`, `src/run/view.rs` -> `run::view`. */
const moduleOf = (base, file) => {
  const parts = relative(base, file).replace(/\.rs$/, '').split('/');
  if (['mod', 'lib', 'main'].includes(parts.at(-1))) parts.pop();
  return parts.join('::');
};

/** Code without comments and strings (doc links are not imports). */
const code = (text) => text
  .replace(/\/\*[\s\S]*?\*\//g, '')
  .replace(/\/\/.*$/gm, '')
  .replace(/r#*"[\s\S]*?"#*/g, '""')
  .replace(/"(?:[^"\\]|\\.)*"/g, '""');

let circles = 0;
for (const crate of crates) {
  const base = join(root, crate);
  const modules = new Map(files(base).map((f) => [moduleOf(base, f), f]));
  // Test modules (`tests.rs`, `*_tests.rs`) see everything by design.
  const isTest = (m) => /(^|::)(tests|\w+_tests)$/.test(m);
  /** The module a path names: the longest known prefix. */
  const resolve = (segments) => {
    for (let n = segments.length; n > 0; n -= 1) {
      const name = segments.slice(0, n).join('::');
      if (modules.has(name)) return name;
    }
    return null;
  };
  const edges = new Map();
  for (const [module, file] of modules) {
    if (isTest(module)) continue;
    const here = module ? module.split('::') : [];
    const targets = new Set();
    for (const m of code(readFileSync(file, 'utf8')).matchAll(/\b(crate|super|self)((?:::\w+)+)/g)) {
      // `self` is this module, each `super` one up, `crate` the root.
      let segs = m[2].slice(2).split('::');
      let start = m[1] === 'crate' ? [] : m[1] === 'self' ? here : here.slice(0, -1);
      while (segs[0] === 'super') {
        start = start.slice(0, -1);
        segs = segs.slice(1);
      }
      segs = [...start, ...segs];
      const target = resolve(segs);
      if (target !== null && target !== module && !isTest(target)
        // A module's own children are its parts, not its neighbours.
        && !target.startsWith(module ? `${module}::` : '')) targets.add(target);
    }
    edges.set(module, targets);
  }
  for (const [a, targets] of edges) {
    for (const b of targets) {
      // A parent reaching into its child is how Rust folders work; a child using its parent's
      // items is not a circle either. Only siblings (and cousins) reaching each other are.
      if (a.startsWith(`${b}::`) || b.startsWith(`${a}::`) || a === '' || b === '') continue;
      if (a < b && edges.get(b)?.has(a)) {
        console.error(`${crate}: ${a} and ${b} use each other`);
        circles += 1;
      }
    }
  }
}

/** The workspace crates `dir`'s Cargo.toml depends on (path dependencies outside dev-). */
const pathDeps = (dir) => {
  let normal = false;
  const deps = [];
  for (const line of readFileSync(join(root, dir, 'Cargo.toml'), 'utf8').split('\n')) {
    const section = line.match(/^\s*\[(.*)\]\s*$/);
    if (section) normal = /^(target\..*\.)?dependencies$/.test(section[1].trim());
    const path = line.match(/path\s*=\s*"([^"]+)"/);
    if (normal && path) deps.push(relative(root, join(root, dir, path[1])) || '.');
  }
  return deps;
};
// The flow itself has no circle: a crate uses only crates drawn before it.
const order = Object.keys(FLOW);
for (const [crate, uses] of Object.entries(FLOW)) {
  for (const dep of uses) {
    if (order.indexOf(dep) >= order.indexOf(crate)) {
      console.error(`FLOW: ${crate} uses ${dep}, drawn after it (a circle in the making)`);
      circles += 1;
    }
  }
}
const members = readFileSync(join(root, 'Cargo.toml'), 'utf8')
  .match(/members\s*=\s*\[([^\]]*)\]/)[1].match(/"[^"]+"/g).map((m) => m.slice(1, -1));
for (const member of members) {
  if (!(member in FLOW)) {
    console.error(`crate ${member} is not in scripts/check-house.mjs's FLOW: say what it may use`);
    circles += 1;
    continue;
  }
  for (const dep of pathDeps(member)) {
    if (!FLOW[member].includes(dep)) {
      console.error(`crate ${member} depends on ${dep}, against the flow (${member} may use: ${FLOW[member].join(', ') || 'nothing'})`);
      circles += 1;
    }
  }
}
// The command line links no server and no HTTP stack it does not use (issue 27): its normal
// dependency tree, as cargo resolves it from Cargo.lock, has none of these.
const SERVER_ONLY = /^(axum|hyper|hyper-util|hyper-rustls|tower|tower-http|reqwest|rusqlite)\s/;
const tree = spawnSync('cargo', ['tree', '-q', '--offline', '-p', 'roster-cli', '-e', 'normal', '--prefix', 'none'], {
  cwd: root,
  encoding: 'utf8',
});
if (tree.status !== 0) {
  console.error(`cargo tree -p roster-cli failed: ${tree.error?.message ?? tree.stderr}`);
  circles += 1;
} else {
  const linked = [...new Set(tree.stdout.split('\n').filter((l) => SERVER_ONLY.test(l)).map((l) => l.split(' ')[0]))];
  if (linked.length) {
    console.error(`roster-cli (qualtrics-roster) links ${linked.join(', ')}: the command line takes no server or hyper stack`);
    circles += 1;
  }
}
if (circles) process.exit(1);
console.log(`${crates.join(', ')}: no two modules use each other; crates flow ${Object.keys(FLOW).join(', ')} without a circle; qualtrics-roster links no axum, hyper, tower or rusqlite.`);

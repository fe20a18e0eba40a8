// The dependency direction of docs/architecture.md, checked rather than hoped for:
//   domain ← engine ← runbooks;  domain ← capabilities;  workers → runbooks + capabilities;
//   api → runbooks' definitions + domain;  runtime code never imports lab/, scripts/ or infra/
//   (the entrypoints and start-up code may).
import tseslint from 'typescript-eslint';

const FOLDERS = ['domain', 'config', 'engine', 'runbooks', 'capabilities', 'runtime', 'infra', 'workers', 'api', 'lab', 'scripts', 'test', 'cli'];

/** A relative import that reaches the top-level folder `name`, from anywhere below the repository root. */
const into = (name) => `^(\\.{1,2}/)+${name}(/|$)`;

/**
 * Capabilities' pure wire formats (`commands.ts`: SSH argv; `requests.ts`: HTTP method, path
 * and body) may be imported as values by workflow code: plan mode shows the very commands the
 * activities send. They import nothing and do no I/O.
 */
const WIRE_FORMATS = '(?![a-z-]+/(commands|requests)$)';

/** Forbids importing these folders from the files a block covers; `typesOnly` folders may still be imported with `import type`. */
function mayNotImport(from, { never = [], typesOnly = [] }) {
  const why = (name) => `${from} may not depend on ${name}/ (see docs/architecture.md, "Dependency direction")`;
  return [
    ...never.map((name) => ({ regex: into(name), message: why(name) })),
    ...typesOnly.map((name) => ({
      regex: `${into(name)}${name === 'capabilities' ? WIRE_FORMATS : ''}`,
      allowTypeImports: true,
      message: `${why(name)}; import type is fine`,
    })),
  ];
}

const rule = (patterns) => ({ '@typescript-eslint/no-restricted-imports': ['error', { patterns }] });
const others = (...allowed) => FOLDERS.filter((f) => !allowed.includes(f));

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'dist/**', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    plugins: { '@typescript-eslint': tseslint.plugin },
  },
  { files: ['domain/**/*.ts'], rules: rule(mayNotImport('domain', { never: others('domain') })) },
  { files: ['config/**/*.ts'], rules: rule(mayNotImport('config', { never: others('config', 'domain') })) },
  { files: ['engine/**/*.ts'], rules: rule(mayNotImport('engine', { never: others('engine', 'domain', 'capabilities'), typesOnly: ['capabilities'] })) },
  {
    files: ['runbooks/**/*.ts'],
    ignores: ['runbooks/*/test/**'],
    rules: rule(mayNotImport('runbooks', { never: others('runbooks', 'domain', 'engine', 'capabilities'), typesOnly: ['capabilities'] })),
  },
  { files: ['capabilities/**/*.ts'], rules: rule(mayNotImport('capabilities', { never: others('capabilities', 'domain') })) },
  { files: ['runtime/**/*.ts'], rules: rule(mayNotImport('runtime', { never: others('runtime', 'domain', 'config') })) },
  {
    files: ['workers/**/*.ts'],
    ignores: ['workers/main.ts'],
    rules: rule(mayNotImport('workers', { never: others('workers', 'domain', 'config', 'runbooks', 'capabilities', 'runtime') })),
  },
  {
    files: ['api/**/*.ts'],
    ignores: ['api/main.ts'],
    rules: rule(mayNotImport('api', { never: others('api', 'domain', 'config', 'runbooks', 'runtime') })),
  },
  // The CLI talks to the API over HTTP only: it shares types with domain/, nothing else.
  { files: ['cli/**/*.ts'], rules: rule(mayNotImport('cli', { never: others('cli', 'domain') })) },
  // Entrypoints may also use infra/ (free ports, start-up), never the lab or the scripts.
  { files: ['workers/main.ts', 'api/main.ts'], rules: rule(mayNotImport('an entrypoint', { never: ['lab', 'scripts', 'test'] })) },
  {
    files: ['infra/**/*.ts'],
    rules: rule(mayNotImport('infra', { never: ['lab', 'scripts', 'test', 'api', 'workers', 'runbooks', 'engine', 'capabilities'] })),
  },
  { files: ['lab/**/*.ts'], rules: rule(mayNotImport('lab', { never: ['scripts', 'test', 'api', 'workers', 'runbooks', 'engine', 'infra'] })) },
);

import type { OpenApiDocument } from './document';

/** What /docs reads of an operation; the document's own types are a union of 3.0 and 3.1 shapes. */
interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  'x-required-role'?: string;
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown }[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { description?: string }>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** Everything the page loads is in it: no script, no font, no CDN (the API may run where nothing else can be reached). */
export const DOCS_CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'";

/**
 * A plain HTML page of the document's operations, grouped by tag: method, path, role,
 * parameters, body schema and responses, and the shared schemas at the end.
 */
export function renderDocsPage(doc: OpenApiDocument): string {
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), renderOperation(method, path, op)]);
    }
  }
  const schemas = Object.entries(doc.components?.schemas ?? {});
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escape(doc.info.title)} ${escape(doc.info.version)}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; }
code, pre { font: 12px/1.4 ui-monospace, monospace; }
pre { background: #f5f5f5; padding: .6em; overflow-x: auto; }
section.op { border-top: 1px solid #ddd; padding: .4em 0; }
.method { display: inline-block; min-width: 4.5em; font-weight: bold; text-transform: uppercase; }
.role { float: right; color: #666; }
table { border-collapse: collapse; } td, th { text-align: left; padding: .1em .8em .1em 0; vertical-align: top; }
</style>
</head>
<body>
<h1>${escape(doc.info.title)} <small>${escape(doc.info.version)}</small></h1>
<p>${escape(doc.info.description ?? '')}</p>
<p>The machine-readable document: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escape(doc.openapi)}).</p>
${[...byTag.entries()].map(([tag, ops]) => `<h2 id="tag-${escape(tag)}">${escape(tag)}</h2>\n${ops.join('\n')}`).join('\n')}
<h2 id="schemas">Shared schemas</h2>
${schemas.map(([name, schema]) => `<h3 id="schema-${escape(name)}">${escape(name)}</h3>\n<pre>${escape(JSON.stringify(schema, null, 2))}</pre>`).join('\n')}
</body>
</html>
`;
}

function renderOperation(method: string, path: string, op: Operation): string {
  const role = op['x-required-role'] ? `role: ${op['x-required-role']}` : 'public';
  const params = op.parameters ?? [];
  const body = op.requestBody?.content?.['application/json']?.schema;
  return `<section class="op">
<p><span class="method">${escape(method)}</span> <code>${escape(path)}</code> <span class="role">${escape(role)}</span></p>
<p><strong>${inline(op.summary ?? '')}</strong></p>
${op.description ? `<p>${inline(op.description).replace(/\n\n/g, '</p><p>')}</p>` : ''}
${
  params.length > 0
    ? `<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>${params
        .map(
          (p) =>
            `<tr><td><code>${escape(p.name)}</code></td><td>${escape(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td><td><code>${escape(JSON.stringify(p.schema))}</code></td></tr>`,
        )
        .join('')}</table>`
    : ''
}
${body ? `<details><summary>request body</summary><pre>${escape(JSON.stringify(body, null, 2))}</pre></details>` : ''}
<table>${Object.entries(op.responses ?? {})
    .map(([status, r]) => `<tr><td>${escape(status)}</td><td>${inline(r.description ?? '')}</td></tr>`)
    .join('')}</table>
</section>`;
}

/** Escaped text, with the document's `code` spans (descriptions are CommonMark) shown as code. */
function inline(text: string): string {
  return escape(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

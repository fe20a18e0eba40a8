import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { ALL_SEARCH_ATTRIBUTES } from '../../domain/search-attributes';
import { CLI_SEARCH_ATTRIBUTE_TYPE } from '../../infra/search-attributes';

interface Service {
  image?: string;
  ports?: (string | { published?: string | number; target?: number })[];
  depends_on?: string[] | Record<string, unknown>;
  environment?: string[] | Record<string, string | number | boolean | null>;
  command?: string | string[];
  entrypoint?: string | string[];
}

const file = path.resolve(__dirname, '../../docker-compose.temporal.yml');
const compose = YAML.parse(fs.readFileSync(file, 'utf8')) as { services: Record<string, Service> };
const services = compose.services;

function env(service: Service): Record<string, string> {
  const e = service.environment ?? {};
  if (Array.isArray(e)) {
    return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/** [hostPort, containerPort] pairs */
function published(service: Service): [number, number][] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'string') {
      const parts = p.split('/')[0]!.split(':');
      return [Number(parts[parts.length - 2]), Number(parts[parts.length - 1])];
    }
    return [Number(p.published), Number(p.target)];
  });
}

function dependsOn(service: Service): string[] {
  const d = service.depends_on ?? [];
  return Array.isArray(d) ? d : Object.keys(d);
}

function scriptOf(service: Service): string {
  const parts = [service.entrypoint, service.command].flat().filter((x): x is string => typeof x === 'string');
  return parts.join('\n');
}

/** The service that runs `temporal operator search-attribute create`. */
function registrationService(): [string, Service] {
  const hit = Object.entries(services).find(([, s]) => /search-attribute create/.test(scriptOf(s)));
  if (!hit) throw new Error('no service registers search attributes');
  return hit;
}

describe('docker-compose.temporal.yml', () => {
  it('has the expected services', () => {
    expect(Object.keys(services).sort()).toEqual(['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-register-search-attributes', 'temporal-ui']);
    expect(registrationService()[0]).toBeTruthy();
  });

  it('pins every image to an explicit, non-latest tag', () => {
    for (const [name, service] of Object.entries(services)) {
      const image = service.image;
      expect({ name, image }).toEqual({ name, image: expect.any(String) });
      expect(image).not.toContain('${'); // no variables that could resolve to anything
      const match = /^([a-z0-9./_-]+):([A-Za-z0-9._-]+)$/.exec(image!);
      expect({ name, image, pinned: match !== null }).toEqual({ name, image, pinned: true });
      expect(match![2]).not.toBe('latest');
      expect(match![2]).toMatch(/\d/); // a version, not a moving name such as "stable"
    }
  });

  it('uses the expected images', () => {
    expect(services.postgresql!.image).toMatch(/^postgres:\d+\.\d+/);
    expect(services.temporal!.image).toMatch(/^temporalio\/auto-setup:\d+\.\d+\.\d+$/);
    expect(services['temporal-admin-tools']!.image).toMatch(/^temporalio\/admin-tools:\d+\.\d+\.\d+/);
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
  });

  it('publishes the Temporal frontend on 7233 and the UI on 8233 (not the API port 8080)', () => {
    expect(published(services.temporal!)).toContainEqual([7233, 7233]);
    expect(published(services['temporal-ui']!)).toContainEqual([8233, 8080]);
    const hostPorts = Object.values(services).flatMap((s) => published(s).map(([h]) => h));
    expect(hostPorts).not.toContain(8080);
  });

  it('runs Temporal on the postgresql service', () => {
    const temporal = services.temporal!;
    expect(dependsOn(temporal)).toContain('postgresql');
    const e = env(temporal);
    expect(e.DB).toBe('postgres12');
    expect(e.POSTGRES_SEEDS).toBe('postgresql');
    expect(e.POSTGRES_USER).toBe(env(services.postgresql!).POSTGRES_USER);
  });

  it('registers every custom search attribute with its type', () => {
    const [, service] = registrationService();
    const script = scriptOf(service).replace(/\\\n/g, ' ');
    const registered = new Map<string, string>();
    for (const segment of script.split('search-attribute create').slice(1)) {
      const command = segment.split('\n')[0]!;
      const type = /--type\s+"?(\w+)/.exec(command)?.[1];
      expect(type).toBeDefined();
      for (const m of command.matchAll(/--name\s+"?(\w+)/g)) registered.set(m[1]!, type!);
    }
    for (const key of ALL_SEARCH_ATTRIBUTES) {
      expect({ name: key.name, type: registered.get(key.name) }).toEqual({ name: key.name, type: CLI_SEARCH_ATTRIBUTE_TYPE[key.type] });
    }
    expect(dependsOn(service)).toContain('temporal');
  });
});

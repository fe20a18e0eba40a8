import type { RedisPersistence } from '../../domain/orchestrator-upgrade';

/**
 * Redis's INFO output (`# Section` headers, `key:value` lines, CRLF) as a map of
 * strings, and the persistence facts a backup pre-check reads from it.
 */
export function parseRedisInfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

export function redisPersistence(info: Map<string, string>): RedisPersistence {
  const num = (k: string) => (info.has(k) && /^-?\d+$/.test(info.get(k)!) ? Number(info.get(k)) : null);
  return {
    loading: info.get('loading') === '1',
    aof_enabled: info.get('aof_enabled') === '1',
    aof_rewrite_in_progress: info.get('aof_rewrite_in_progress') === '1',
    aof_last_write_status: info.get('aof_last_write_status') ?? null,
    aof_last_bgrewrite_status: info.get('aof_last_bgrewrite_status') ?? null,
    rdb_last_bgsave_status: info.get('rdb_last_bgsave_status') ?? null,
    rdb_last_save_time: num('rdb_last_save_time'),
    rdb_changes_since_last_save: num('rdb_changes_since_last_save'),
  };
}

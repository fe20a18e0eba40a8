/**
 * Checks the audit trail's hash chain straight in the database:
 *   DATABASE_URL=postgres://... npm run audit -- verify
 * Exit 0 when every row links to the one before it and matches its hash; 1 with
 * the first broken row otherwise. (Through the API: GET /api/v1/audit/verify.)
 */
import { Pool } from 'pg';
import { AuditTrail } from '../api/audit/audit-trail';
import { loadConfig } from '../config';

async function main(): Promise<number> {
  if (process.argv[2] !== 'verify') {
    process.stderr.write('usage: npm run audit -- verify   (needs DATABASE_URL)\n');
    return 2;
  }
  const url = loadConfig().databaseUrl;
  if (!url) {
    process.stderr.write('DATABASE_URL is not set; for the embedded database of `npm start`, use GET /api/v1/audit/verify\n');
    return 2;
  }
  const pool = new Pool({ connectionString: url, max: 1 });
  try {
    const check = await new AuditTrail(pool).verify();
    if (check.ok) {
      process.stdout.write(`audit trail intact: ${check.rows} row(s)\n`);
      return 0;
    }
    process.stdout.write(`audit trail BROKEN at row ${check.broken!.seq}: ${check.broken!.problem} (${check.rows} row(s) read)\n`);
    return 1;
  } finally {
    await pool.end();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(2);
  },
);

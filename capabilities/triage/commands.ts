/** Incident triage's host command, as pure data: read-only, on any role. */

/** Every process with its owner and full command line, for boundary validation (`ps` from procps). */
export function processListCommand(): string[] {
  return ['ps', '-eo', 'pid=,user=,args='];
}

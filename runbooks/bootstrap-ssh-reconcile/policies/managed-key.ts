/**
 * Whether a bootstrap SSH reconcile did what it should to the allocation user's
 * authorized_keys: the instance's managed key is there, and every other line is as it
 * was (the platform owns one line per instance, never the user's own keys). Pure.
 */
export interface ManagedKeyCheck {
  present: boolean;
  /** Lines other than this instance's managed key that the reconcile removed or changed. */
  touched: string[];
}

/** The managed key's comment names its instance: `... gpuaas-managed app_instance=<id>`. */
export function isManagedLine(line: string, appInstanceId: string): boolean {
  return line.trim().split(/\s+/).slice(2).join(' ') === `gpuaas-managed app_instance=${appInstanceId}`;
}

export function checkManagedKey(before: readonly string[], after: readonly string[], appInstanceId: string): ManagedKeyCheck {
  const others = (lines: readonly string[]) => lines.filter((l) => !isManagedLine(l, appInstanceId));
  const kept = new Set(others(after));
  return { present: after.some((l) => isManagedLine(l, appInstanceId)), touched: others(before).filter((l) => !kept.has(l)) };
}

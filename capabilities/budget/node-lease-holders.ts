import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ledgerWorkflowId, NODE_SCOPE_KIND, scopeKey, type Lease } from '../../domain/disruption';
import { ledgerStateQuery } from '../../domain/disruption-messages';

/** Who holds a node's own scope (node/<id>, cap 1) now, read from its ledger; nobody when the ledger never ran or has ended. */
export async function readNodeLeaseHolders(temporal: Client, nodeId: string): Promise<Lease[]> {
  const handle = temporal.workflow.getHandle(ledgerWorkflowId(scopeKey(NODE_SCOPE_KIND, nodeId)));
  try {
    if ((await handle.describe()).status.name !== 'RUNNING') return [];
    return (await handle.query(ledgerStateQuery)).holders;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return [];
    throw err;
  }
}

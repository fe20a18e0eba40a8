import fs from 'node:fs';
import type { Config } from '../config';
import { loadInventory, loadOrchestratorClusters } from '../config';
import type { Inventory } from '../domain/inventory';
import type { AlertingEndpoints } from '../capabilities/alerting/alert-check-activities';
import type { OrchestratorCluster } from '../domain/orchestrator';

/** What a started lab offers the engine; the lab itself is never imported by runtime code. */
export interface LabEndpoints {
  inventory: Inventory;
  clientKeyPath: string;
  platformUrl: string;
  platformToken: string;
  /** The lab's Loki and Tempo read APIs. */
  lokiUrl?: string;
  tempoUrl?: string;
  /** The lab's GPU orchestrator, when it runs one. */
  orchestrator?: { cluster: OrchestratorCluster };
  /** The Prometheus and Alertmanager started around the lab's orchestrator. */
  alerting?: AlertingEndpoints;
}

export interface FleetWiring {
  inventory: Inventory;
  sshPrivateKey: Buffer;
  platformUrl: string;
  platformToken: string;
  orchestrators: OrchestratorCluster[];
  /** Where incident evidence is read: LOKI_URL and TEMPO_URL, else the lab's; unset on a fleet that configures none. */
  lokiUrl?: string;
  tempoUrl?: string;
  alerting?: AlertingEndpoints;
}

/** The fleet the activities act on: the configured real one, or the lab that was just started. */
export function fleetWiring(config: Config, lab: LabEndpoints | undefined): FleetWiring {
  if (config.fleet.mode === 'inventory') {
    return {
      inventory: loadInventory(config.fleet.inventoryFile),
      sshPrivateKey: fs.readFileSync(config.fleet.sshPrivateKeyFile),
      platformUrl: config.fleet.platformApiUrl,
      platformToken: config.fleet.platformApiToken.reveal(),
      orchestrators: config.fleet.orchestratorClustersFile ? loadOrchestratorClusters(config.fleet.orchestratorClustersFile) : [],
      lokiUrl: config.observability.lokiUrl,
      tempoUrl: config.observability.tempoUrl,
      alerting:
        config.alerting.prometheusUrl && config.alerting.alertmanagerUrl
          ? { prometheusUrl: config.alerting.prometheusUrl, alertmanagerUrl: config.alerting.alertmanagerUrl }
          : undefined,
    };
  }
  if (!lab) throw new Error('no INVENTORY_FILE configured and the lab is not running');
  return {
    inventory: lab.inventory,
    sshPrivateKey: fs.readFileSync(lab.clientKeyPath),
    platformUrl: lab.platformUrl,
    platformToken: lab.platformToken,
    orchestrators: lab.orchestrator ? [lab.orchestrator.cluster] : [],
    lokiUrl: config.observability.lokiUrl ?? lab.lokiUrl,
    tempoUrl: config.observability.tempoUrl ?? lab.tempoUrl,
    alerting: lab.alerting,
  };
}

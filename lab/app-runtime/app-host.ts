/** One lab host as the app runtime sees it: its files, service journal, units and network identity. */
import type { HostRole } from '../../domain/host-roles';
import type { LabHost } from '../world';
import { fleetIdentity, type FleetIdentity } from './fleet';
import { HostFiles } from './host-files';
import type { ServiceUnit } from './service-units';
import { UnitJournal } from './unit-journal';

export class AppHost {
  readonly files: HostFiles;
  readonly journal: UnitJournal;
  readonly units = new Map<string, ServiceUnit>();
  readonly identity: FleetIdentity;

  constructor(readonly lab: LabHost) {
    this.files = new HostFiles(lab.state);
    this.journal = new UnitJournal(lab.spec.hostname);
    this.identity = fleetIdentity(lab.spec.node_id);
  }

  get nodeId(): string {
    return this.lab.spec.node_id;
  }

  get hostname(): string {
    return this.lab.spec.hostname;
  }

  get role(): HostRole {
    return this.lab.spec.role;
  }

  get isWorker(): boolean {
    return this.role === 'worker_compute';
  }

  /** Rebooting (or hung in boot): nothing on it runs and nothing reaches it. */
  get down(): boolean {
    return this.lab.ssh?.rebooting ?? false;
  }

  unit(id: string): ServiceUnit | undefined {
    return this.units.get(id);
  }
}

import { ChangeClock } from './change-clock.js';
import { DataflowStructure, type DataflowDefinition } from './dataflow-structure.js';
import { HostedDataflow, type ChangeResult } from './hosted-dataflow.js';
import type { NsiSnapshot } from './snapshot.js';

/**
 * A .Stat data space: dataflows with their structures, data and referential metadata. One change
 * clock for the whole space, like the one database behind a real space.
 */
export class DataSpace {
  private readonly flows = new Map<string, HostedDataflow>();
  readonly clock: ChangeClock;

  constructor(clock: () => Date = () => new Date()) {
    this.clock = new ChangeClock(clock);
  }

  defineDataflow(definition: DataflowDefinition): HostedDataflow {
    const structure = new DataflowStructure(definition);
    if (this.flows.has(structure.ref)) throw new Error(`dataflow ${structure.ref} is already defined`);
    const flow = new HostedDataflow(structure, this.clock);
    this.flows.set(structure.ref, flow);
    return flow;
  }

  /** By `AGENCY:ID(VERSION)`. */
  dataflow(ref: string): HostedDataflow {
    const flow = this.flows.get(ref);
    if (!flow) throw new Error(`no dataflow ${ref} in this data space (defined: ${[...this.flows.keys()].join(', ') || 'none'})`);
    return flow;
  }

  find(agency: string, id: string, version: string): HostedDataflow | undefined {
    return this.flows.get(`${agency}:${id}(${version})`);
  }

  dataflows(): HostedDataflow[] {
    return [...this.flows.values()];
  }

  upload(ref: string, csvText: string): ChangeResult {
    return this.dataflow(ref).upload(csvText);
  }

  snapshot(ref: string): NsiSnapshot {
    return this.dataflow(ref).snapshot();
  }
}

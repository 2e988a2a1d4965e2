/**
 * The readings the agent takes from systeminformation: the CPU's maker and model and the system's
 * model and UUID (DMI or device tree). Runs in the helper process (helper-process/), never in the agent.
 */
import si from 'systeminformation';

export interface SystemFacts {
  cpuManufacturer?: string;
  cpuBrand?: string;
  systemModel?: string;
  systemUuid?: string;
}

export async function readSystemFacts(): Promise<SystemFacts> {
  const [cpu, system] = await Promise.all([si.cpu().catch(() => undefined), si.system().catch(() => undefined)]);
  return {
    ...(cpu?.manufacturer ? { cpuManufacturer: cpu.manufacturer } : {}),
    ...(cpu?.brand ? { cpuBrand: cpu.brand } : {}),
    ...(system?.model ? { systemModel: system.model } : {}),
    ...(system?.uuid ? { systemUuid: system.uuid } : {}),
  };
}

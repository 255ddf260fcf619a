import type { Device } from '../dtype.ts';
import { fail } from '../errors.ts';
import type { Backend } from './backend.ts';
import { cpuBackend } from './cpu/cpu-backend.ts';

const backends = new Map<Device, Backend>([['cpu', cpuBackend]]);
let current: Device = 'cpu';

/** The backend for a device; WebGPU exists only after `await initWebGpu()`. */
export function getBackend(device: Device): Backend {
  const b = backends.get(device);
  if (!b) {
    if (device !== 'webgpu') fail('getBackend', `unknown device '${String(device)}'; expected 'cpu' or 'webgpu'`);
    fail('getBackend', "the 'webgpu' backend is not initialised; call `await initWebGpu()` first");
  }
  return b;
}

export function registerBackend(backend: Backend): void {
  backends.set(backend.device, backend);
}

/**
 * Removes a backend that is going away (a disposed WebGPU backend); afterwards getBackend and
 * useBackend for its device throw the usual "not initialised" error. A backend that is no longer
 * the registered one (already replaced) is left alone.
 */
export function unregisterBackend(backend: Backend): void {
  if (backends.get(backend.device) === backend) backends.delete(backend.device);
}

/** Sets the device new tensors are created on when none is given. */
export function useBackend(device: Device): void {
  getBackend(device);
  current = device;
}

export function defaultDevice(): Device {
  return current;
}

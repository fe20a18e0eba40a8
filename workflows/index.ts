/** Every workflow the worker registers. */
export { gpuFaultRemediation } from './gpu-fault-remediation';

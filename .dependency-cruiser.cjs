/**
 * lorafa's layering, as rules that can fail (`npm run lint:layers`, run by CI and by
 * test/layering/layering.test.ts, which also proves each rule fires on a fixture tree):
 *
 *   core (dtype, errors, shape, random) ← backends ← autograd ← tensor.ts, factories ← nn, lora, optim, … ← lab, cli
 *
 * Type-only imports are allowed across layers (a kernel may name a type); runtime imports are not.
 * Paths are relative to the folder cruised from (the repository root).
 */
const LIBRARY_ABOVE_BACKENDS = '^src/(autograd|nn|lora|optim|memory|verify|io|data|linalg/index\\.ts|tensor\\.ts|factories\\.ts|ops\\.ts|index\\.ts)';
const runtime = { dependencyTypesNot: ['type-only'] };
const NODE_SIDE = '^src/(node\\.ts|io/(safetensors-files|atomic-write|peft-files)\\.ts|data/|lab/|cli/)';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import circles (at run time: type-only imports, erased by the compiler, may refer back).',
      severity: 'error',
      from: {},
      to: { circular: true, ...runtime, viaOnly: runtime },
    },
    {
      name: 'core-imports-only-core',
      comment: 'dtype, errors, shape and random are the bottom layer: they import only each other.',
      severity: 'error',
      from: { path: '^src/(dtype|errors|shape|random)\\.ts$' },
      to: { path: '^src/', pathNot: '^src/(dtype|errors|shape|random)\\.ts$', ...runtime },
    },
    {
      name: 'backends-below-autograd',
      comment: 'Backends import nothing of autograd, tensors, nn, lora, lab or cli (only the core and the host linear algebra).',
      severity: 'error',
      from: { path: '^src/backends/' },
      to: { path: [LIBRARY_ABOVE_BACKENDS, '^src/(lab|cli)/'], ...runtime },
    },
    {
      name: 'backend-folders-private',
      comment: "A backend's folder is entered only through its entry (cpu-backend.ts; webgpu/index.ts)…",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/backends/' },
      to: { path: '^src/backends/(cpu|webgpu)/', pathNot: '^src/backends/(cpu/cpu-backend|webgpu/index)\\.ts$' },
    },
    {
      name: 'backends-apart',
      comment: "…and no backend imports from inside another's folder.",
      severity: 'error',
      from: { path: '^src/backends/([^/]+)/' },
      to: { path: '^src/backends/(cpu|webgpu)/', pathNot: '^src/backends/$1/' },
    },
    {
      name: 'autograd-below-layers',
      comment: 'The engine and its ops import nothing of nn, lora, optim, memory, lab or cli, and not the Tensor class at run time (tensor-class.ts).',
      severity: 'error',
      from: { path: '^src/autograd/' },
      to: { path: ['^src/(nn|lora|optim|memory|verify|io|data|lab|cli)/', '^src/(tensor|factories|ops|index)\\.ts$'], ...runtime },
    },
    {
      name: 'nn-below-lora',
      comment: 'The LoRA family builds on nn, not the other way round (nn/index.ts, the public `nn` namespace, re-exports its layers).',
      severity: 'error',
      from: { path: '^src/nn/', pathNot: '^src/nn/index\\.ts$' },
      to: { path: '^src/lora/' },
    },
    {
      name: 'library-not-app',
      comment: 'Nothing in the library imports the lab or the command line.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(lab|cli)/' },
      to: { path: '^src/(lab|cli)/' },
    },
    {
      name: 'node-only-in-node-modules',
      comment: "Only the Node side (src/node.ts, io/safetensors-files.ts, io/atomic-write.ts, io/peft-files.ts, data/, lab/, cli/) imports Node's built-in modules: the rest runs in browsers.",
      severity: 'error',
      from: { path: '^src/', pathNot: NODE_SIDE },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'core-entries-platform-neutral',
      comment: "Nothing reachable from the 'lorafa' and 'lorafa/verify' entries is on the Node side.",
      severity: 'error',
      from: { path: '^src/(index|verify/index)\\.ts$' },
      to: { path: NODE_SIDE, reachable: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^@webgpu/types$' }, // a types-only package (triple-slash reference)
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'node', 'default'] },
  },
};

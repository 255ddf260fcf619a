// Placeholder until the issue that owns 'verify' lands; replaced by its implementation.
export async function run(_args: string[]): Promise<number> {
  console.error("lorafa verify: not built yet");
  return 1;
}

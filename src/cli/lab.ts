// Placeholder until the issue that owns 'lab' lands; replaced by its implementation.
export async function run(_args: string[]): Promise<number> {
  console.error("lorafa lab: not built yet");
  return 1;
}

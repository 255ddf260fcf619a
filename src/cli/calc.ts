// Placeholder until the issue that owns 'calc' lands; replaced by its implementation.
export async function run(_args: string[]): Promise<number> {
  console.error("lorafa calc: not built yet");
  return 1;
}

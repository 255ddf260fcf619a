// Placeholder until the issue that owns 'pretrain' lands; replaced by its implementation.
export async function run(_args: string[]): Promise<number> {
  console.error("lorafa pretrain: not built yet");
  return 1;
}

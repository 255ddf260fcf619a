import cliProgress from 'cli-progress';

/** A progress bar on stderr (drawn only on a terminal), showing the step and the running loss. */
export function progressBar(label: string, total: number): { update: (step: number, loss: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar({
    format: `${label.padEnd(22)} {bar} {value}/{total} steps | loss {loss} | {duration_formatted} (eta {eta_formatted})`,
    hideCursor: true,
    clearOnComplete: false,
    stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { loss: '-' });
  return {
    update: (step, loss) => bar.update(step, { loss: loss.toFixed(3) }),
    stop: () => bar.stop(),
  };
}

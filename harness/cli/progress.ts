/** Progress lines for long runs: rewritten in place on a terminal, every ~10% otherwise. */
import type { CampaignProgress } from '../run/campaign.ts';

export function progressPrinter(label: string, stream: NodeJS.WriteStream = process.stderr): {
  update(p: CampaignProgress): void;
  done(): void;
} {
  const tty = stream.isTTY === true;
  let lastDecile = -1;
  let lastPhase = '';
  let wrote = false;
  return {
    update(p) {
      const text = `${label}: ${p.phase} — ${p.done}/${p.total} runs, ${p.violations} violation${p.violations === 1 ? '' : 's'}`;
      if (tty) {
        stream.write(`\r\x1b[2K${text}`);
        wrote = true;
        return;
      }
      const decile = Math.floor((p.done * 10) / Math.max(1, p.total));
      if (decile !== lastDecile || p.phase !== lastPhase) {
        stream.write(text + '\n');
        lastDecile = decile;
        lastPhase = p.phase;
      }
    },
    done() {
      if (tty && wrote) stream.write('\r\x1b[2K');
    },
  };
}

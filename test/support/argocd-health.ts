// Argo CD's verdict on an object: deploy/argocd/health.lua run by Debian's Lua 5.1 (Argo CD's Lua
// version) through argocd-health-harness.lua, which gives the script what Argo CD gives it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const HEALTH_SCRIPT = 'deploy/argocd/health.lua';
const HARNESS = fileURLToPath(new URL('./argocd-health-harness.lua', import.meta.url));
const LUA = 'lua5.1';

export type HealthStatus = 'Healthy' | 'Progressing' | 'Degraded' | 'Suspended' | 'Missing';

export interface Health {
  status: HealthStatus;
  message?: string;
}

/** Runs the health script on `obj` (as JSON, the way Argo CD hands it over). */
export function argoHealth(obj: unknown, script = HEALTH_SCRIPT): Promise<Health> {
  return new Promise((resolve, reject) => {
    const child = execFile(LUA, [HARNESS, script], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        reject(
          new Error(
            missing
              ? `${LUA} not found: bash scripts/install-system-deps.sh installs lua5.1 and lua-cjson`
              : `${LUA} ${script} failed: ${stderr || error.message}`,
          ),
        );
        return;
      }
      resolve(JSON.parse(stdout) as Health);
    });
    child.stdin?.end(JSON.stringify(obj));
  });
}

import * as vscode from 'vscode';
import { login } from '../../core/login';
import { logout } from '../../core/logout';
import { operations } from '../operations';
import { isRemoteRow, rowOf, showError, type Ctx, type Target } from './common';

/** Sign In (our own OAuth sign-in, with a paste fallback), Grant Additional Access (step-up), Sign Out. */

/**
 * Where the browser cannot reach the callback (another machine, a tunnel that does not forward it), the user can
 * paste the address the browser ended on: an input box appears once the callback is `afterMs` late
 * (mcpAuth.pasteAfterSeconds, 30 s by default), and goes with the sign-in.
 */
export function offerPaste(name: string, afterMs: number): { pasted: Promise<string>; dispose(): void } {
  let box: vscode.InputBox | undefined;
  let resolve!: (v: string) => void;
  const pasted = new Promise<string>((r) => (resolve = r));
  const timer = setTimeout(() => {
    box = vscode.window.createInputBox();
    box.title = vscode.l10n.t('Sign in to {0}', name);
    box.prompt = vscode.l10n.t('Did the browser not come back? Paste the address your browser ended on.');
    box.placeholder = 'http://localhost:…/callback?code=…&state=…';
    box.ignoreFocusOut = true;
    box.onDidAccept(() => {
      if (box?.value) resolve(box.value);
      box?.hide();
    });
    box.show();
  }, afterMs);
  return {
    pasted,
    dispose: () => {
      clearTimeout(timer);
      box?.dispose();
    },
  };
}

export async function signInCommand(ctx: Ctx, target: Target, opts: { newClient?: boolean } = {}) {
  const row = await rowOf(ctx, target, isRemoteRow, vscode.l10n.t('Sign in to which server?'));
  if (!row) return undefined;
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: vscode.l10n.t('Signing in to {0} — finish in your browser', row.config.name),
      cancellable: true,
    },
    async (_p, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      const paste = offerPaste(row.config.name, ctx.service.settings.pasteAfterMs);
      const out = await login(
        row.config,
        { ...ctx.service.coreDeps(ctx.log), env: process.env },
        {
          signal: ac.signal,
          onAuthorizationUrl: async (url) => {
            ctx.log.info(`authorization URL for ${row.config.name}: ${url}`);
            const opened = await vscode.env.openExternal(vscode.Uri.parse(url, true));
            if (!opened) void vscode.window.showWarningMessage(vscode.l10n.t('Open this URL to sign in: {0}', url));
          },
          externalRedirect: async (local) => (await vscode.env.asExternalUri(vscode.Uri.parse(local))).toString(true),
          pasted: paste.pasted,
          newClient: opts.newClient,
        },
      ).finally(() => paste.dispose());
      ctx.service.schedule(0);
      void vscode.window.showInformationMessage(vscode.l10n.t('Signed in to {0}.', row.config.name));
      return out;
    },
  );
}

/**
 * Grant Additional Access (step-up, `needs-scope`): a sign-in like any other — core/login.ts asks for the union
 * of the scope the server advertises, the stored scope and the `stepUpScope` Claude Code recorded, and drops
 * `stepUpScope` once the granted scope covers it.
 */
export async function grantAccessCommand(ctx: Ctx, target: Target) {
  const row = await rowOf(
    ctx,
    target,
    (r) => isRemoteRow(r) && r.status.state === 'needs-scope',
    vscode.l10n.t('Grant additional access to which server?'),
  );
  return row ? signInCommand(ctx, { name: row.config.name }) : undefined;
}

export async function signOutCommand(ctx: Ctx, target: Target) {
  const row = await rowOf(
    ctx,
    target,
    (r) => isRemoteRow(r) && (r.status.hasRefreshToken || r.status.expiresAt !== undefined),
    vscode.l10n.t('Sign out of which server?'),
  );
  if (!row) return undefined;
  if (!(target && 'name' in target)) {
    const yes = vscode.l10n.t('Sign Out');
    const ok = await vscode.window.showWarningMessage(
      vscode.l10n.t(
        'Sign out of {0}? Its tokens are revoked and removed for every Claude Code session on this machine.',
        row.config.name,
      ),
      { modal: true },
      yes,
    );
    if (ok !== yes) return undefined;
  }
  const out = await operations.track(logout(row.config, ctx.service.coreDeps(ctx.log)));
  ctx.service.schedule(0);
  if (out.revokeError)
    void showError(
      vscode.l10n.t('Signed out of {0} locally; revocation failed: {1}', row.config.name, out.revokeError.code),
      ctx.output,
    );
  return out;
}

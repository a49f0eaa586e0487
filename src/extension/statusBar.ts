import * as vscode from 'vscode';
import type { AuthModelService } from './service';
import { statusBarText } from './present';

/** One item, shown only while some server needs sign-in or is blocked (and the setting allows it). */
export class AuthStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('mcpAuth.status', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;
  private shown = false;
  constructor(private readonly service: AuthModelService) {
    this.item.name = vscode.l10n.t('MCP Auth');
    this.item.command = 'mcpAuth.showProblems';
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    this.sub = service.onDidChange(() => this.update());
    this.update();
  }
  update(): void {
    const s =
      this.service.model && this.service.settings.statusBar
        ? statusBarText(this.service.model.servers, vscode.l10n)
        : undefined;
    this.shown = s !== undefined;
    if (!s) {
      this.item.hide();
      return;
    }
    this.item.text = s.text;
    this.item.tooltip = s.tooltip;
    this.item.show();
  }
  get visible(): boolean {
    return this.shown;
  }
  get text(): string {
    return this.item.text;
  }
  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}

/** The QuickPick behind the panel's "Compare method…" button. */
import * as vscode from 'vscode';
import { METHODS, type MethodName } from '../shared/protocol';
import { METHOD_INFO } from './methodParams';

/** Asks for the method of the second column; undefined when the user dismissed the pick. */
export async function pickCompareMethod(method: MethodName, current: MethodName | undefined): Promise<MethodName | undefined> {
  type Item = vscode.QuickPickItem & { method: MethodName };
  const items: Item[] = METHODS.filter((m) => m !== method).map((m) => ({
    method: m,
    label: METHOD_INFO[m].label,
    description: m === current ? 'shown now' : m,
    detail: METHOD_INFO[m].description,
  }));
  const picked = await vscode.window.showQuickPick(items, {
    title: `Compare ${METHOD_INFO[method].label} with…`,
    placeHolder: 'A second column explains the same image, model and target with this method',
    matchOnDetail: true,
  });
  return picked?.method;
}

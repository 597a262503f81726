import { useState } from 'react';
import type { CreatedKey } from '../api/types';
import { copyText } from '../lib/clipboard';
import { Icon } from './Icon';
import { Modal } from './Modal';

/**
 * Shows a newly created key exactly once. Closing it drops the secret from
 * memory: the caller clears its state in `onClose`.
 */
export function KeyCreatedDialog({
  created,
  onClose,
  copy = copyText,
}: {
  created: CreatedKey;
  onClose: () => void;
  copy?: (text: string) => Promise<boolean>;
}) {
  const [copied, setCopied] = useState<'yes' | 'no' | null>(null);
  const doCopy = async () => {
    setCopied((await copy(created.key)) ? 'yes' : 'no');
  };
  return (
    <Modal
      title="Your new API key"
      onClose={onClose}
      dismissable={false}
      actions={
        <button type="button" className="btn btn-primary" onClick={onClose}>
          I have stored it
        </button>
      }
    >
      <div className="banner banner-warn" role="note">
        <Icon name="alert" />
        <span>
          <strong>Copy it now: you won’t see it again.</strong> Only a hash is stored; if it is lost, revoke it and
          create another.
        </span>
      </div>
      <p className="muted small">
        Key <code>{created.id}</code> for user <strong>{created.user}</strong>
      </p>
      <div className="secret-row">
        <code className="secret" data-testid="new-key">
          {created.key}
        </code>
        <button type="button" className="btn" onClick={doCopy} aria-label="Copy key">
          <Icon name={copied === 'yes' ? 'check' : 'copy'} size={16} />
          {copied === 'yes' ? 'Copied' : 'Copy'}
        </button>
      </div>
      <p className="small" aria-live="polite">
        {copied === 'yes' ? 'Copied to the clipboard.' : null}
        {copied === 'no' ? 'Could not copy automatically: select the key and copy it by hand.' : null}
      </p>
    </Modal>
  );
}

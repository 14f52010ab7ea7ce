import { Button, Group, Modal, Stack, Text } from '@mantine/core';

/**
 * Asks before a destructive action: the action runs only on "Confirm".
 * `children` holds the action's options (force, reason...).
 */
export function ConfirmModal({ opened, onClose, title, message, onConfirm, loading, error, children, color = 'red' }) {
  return (
    <Modal opened={opened} onClose={onClose} title={title} centered closeButtonProps={{ 'aria-label': 'Close' }}>
      <Stack>
        {message && <Text size="sm">{message}</Text>}
        {children}
        {error && (
          <Text c="red" size="sm" role="alert">
            {error.message}
          </Text>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Back
          </Button>
          <Button color={color} onClick={onConfirm} loading={loading}>
            Confirm
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

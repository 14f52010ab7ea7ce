import { useState } from 'react';
import { Button, Group, Paper, Stack, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { api, seg } from '../api.js';
import { RegistryList } from '../ui/Registry.jsx';

const GROUPS = {
  path: '/thing-groups',
  route: 'thing-groups',
  title: 'Thing Groups',
  listKey: 'thingGroups',
  nameKey: 'thingGroupName',
  columns: [{ label: 'Description', render: (g) => g.description ?? '—' }],
  deleteMessage: 'The group is deleted; its things stay registered.',
};

function CreateGroup() {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const create = useMutation({
    mutationFn: () =>
      api('POST', '/thing-groups', {
        thingGroupName: name.trim(),
        ...(description.trim() && { description: description.trim() }),
      }),
    onSuccess: (group) => {
      queryClient.invalidateQueries({ queryKey: ['/thing-groups'] });
      setName('');
      setDescription('');
      navigate(`/thing-groups/${seg(group.thingGroupName)}`);
    },
  });
  return (
    <Paper withBorder p="md">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Stack>
          <Title order={3}>Create a thing group</Title>
          <Group align="start" wrap="wrap">
            <TextInput
              label="Thing group name"
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={create.error?.message}
              w={320}
            />
            <TextInput
              label="Group description"
              value={description}
              onChange={(e) => setDescription(e.currentTarget.value)}
              w={320}
            />
          </Group>
          <Group>
            <Button type="submit" loading={create.isPending} disabled={!name.trim()}>
              Create Thing Group
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

export function ThingGroups() {
  return <RegistryList kind={GROUPS} createForm={<CreateGroup />} />;
}

import { useState } from 'react';
import {
  Accordion,
  ActionIcon,
  Alert,
  Anchor,
  Button,
  Grid,
  Group,
  MultiSelect,
  NativeSelect,
  NumberInput,
  Paper,
  Stack,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { api, get, query } from '../api.js';
import { JOB_TYPES } from '../format.js';
import { documentError, JsonEditor } from '../ui/JsonEditor.jsx';

const EXAMPLE_DOCUMENT = `{
  "action": "updateFirmware",
  "params": {
    "version": "2.1.5",
    "url": "https://firmware.example.com/thermostat-v2.1.5.bin"
  }
}`;

const EMPTY = {
  jobId: '',
  name: '',
  jobType: 'SNAPSHOT',
  description: '',
  thingNames: [],
  thingGroupNames: [],
  document: EXAMPLE_DOCUMENT,
  maximumPerMinute: '',
  exponential: false,
  baseRatePerMinute: '',
  incrementFactor: '',
  increaseAfter: 'numberOfNotifiedThings',
  increaseAfterCount: '',
  abortCriteria: [],
  inProgressTimeoutInMinutes: '',
  retryCriteria: [],
  startTime: '',
  endTime: '',
  endBehavior: '',
  maintenanceWindows: [],
};

const isSet = (v) => v !== '' && v !== null && v !== undefined;

/** The CreateJob body of the form's state (fields left empty are left out). */
function requestBody(form) {
  const body = {
    targets: {},
    document: JSON.parse(form.document),
    jobType: form.jobType,
  };
  if (form.jobId.trim()) body.jobId = form.jobId.trim();
  if (form.name.trim()) body.name = form.name.trim();
  if (form.description.trim()) body.description = form.description.trim();
  if (form.thingNames.length) body.targets.thingNames = form.thingNames;
  if (form.thingGroupNames.length) body.targets.thingGroupNames = form.thingGroupNames;

  const rollout = {};
  if (isSet(form.maximumPerMinute)) rollout.maximumPerMinute = form.maximumPerMinute;
  if (form.exponential) {
    rollout.exponentialRate = {
      baseRatePerMinute: form.baseRatePerMinute,
      incrementFactor: form.incrementFactor,
      rateIncreaseCriteria: { [form.increaseAfter]: form.increaseAfterCount },
    };
  }
  if (Object.keys(rollout).length) body.jobExecutionsRolloutConfig = rollout;
  if (form.abortCriteria.length) body.abortConfig = { criteriaList: form.abortCriteria };
  if (isSet(form.inProgressTimeoutInMinutes)) {
    body.timeoutConfig = { inProgressTimeoutInMinutes: form.inProgressTimeoutInMinutes };
  }
  if (form.retryCriteria.length) body.jobExecutionsRetryConfig = { criteriaList: form.retryCriteria };
  const scheduling = {};
  if (form.startTime) scheduling.startTime = form.startTime;
  if (form.endTime) scheduling.endTime = form.endTime;
  if (form.endBehavior) scheduling.endBehavior = form.endBehavior;
  if (form.maintenanceWindows.length) scheduling.maintenanceWindows = form.maintenanceWindows;
  if (Object.keys(scheduling).length) body.schedulingConfig = scheduling;
  return body;
}

/** Suggestions from the registry for what is being typed (name prefix). */
function useNames(path, key, search) {
  const [prefix] = useDebouncedValue(search.trim(), 200);
  return useQuery({
    queryKey: [path, 'names', prefix],
    queryFn: () => get(`${path}${query({ namePrefix: prefix, limit: 50 })}`),
    select: (data) => (data?.[key] ?? []).map((item) => item.thingName ?? item.thingGroupName),
    placeholderData: keepPreviousData,
    staleTime: 10_000,
  });
}

/** A list of rows edited in place (abort criteria, retries, windows). */
function Rows({ label, rows, onChange, empty, render, addLabel }) {
  const update = (i, patch) => onChange(rows.map((row, j) => (i === j ? { ...row, ...patch } : row)));
  return (
    <Stack gap="xs">
      {rows.length === 0 && (
        <Text size="sm" c="dimmed">
          None.
        </Text>
      )}
      {rows.map((row, i) => (
        <Group key={i} align="end" wrap="wrap" gap="xs">
          {render(row, (patch) => update(i, patch), i)}
          <ActionIcon
            variant="subtle"
            color="red"
            aria-label={`Remove ${label} ${i + 1}`}
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
            mb={4}
          >
            ✕
          </ActionIcon>
        </Group>
      ))}
      <Group>
        <Button variant="light" size="xs" onClick={() => onChange([...rows, { ...empty }])}>
          {addLabel}
        </Button>
      </Group>
    </Stack>
  );
}

export function CreateJob() {
  const [form, setForm] = useState(EMPTY);
  const [thingSearch, setThingSearch] = useState('');
  const [groupSearch, setGroupSearch] = useState('');
  const [documentTouched, setDocumentTouched] = useState(false);
  const [submitted, setSubmitted] = useState(false);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const set = (patch) => setForm((f) => ({ ...f, ...patch }));
  const things = useNames('/things', 'things', thingSearch);
  const groups = useNames('/thing-groups', 'thingGroups', groupSearch);

  const docError = documentError(form.document);
  const noTargets = form.thingNames.length === 0 && form.thingGroupNames.length === 0;
  const create = useMutation({
    mutationFn: (body) => api('POST', '/jobs', body),
    onSuccess: (created) => {
      queryClient.invalidateQueries({ queryKey: ['jobs'] });
      navigate(`/jobs/${encodeURIComponent(created.jobId)}`);
    },
  });

  const submit = (event) => {
    event.preventDefault();
    setSubmitted(true);
    setDocumentTouched(true);
    if (docError || noTargets) return;
    create.mutate(requestBody(form));
  };

  const num = (name) => ({
    value: form[name],
    onChange: (value) => set({ [name]: value }),
  });

  return (
    <form onSubmit={submit} noValidate aria-labelledby="create-job-title">
      <Stack maw={960}>
        <Group justify="space-between">
          <Title order={2} id="create-job-title">
            Create Job
          </Title>
          <Anchor component={Link} to="/jobs" size="sm">
            Back to Jobs
          </Anchor>
        </Group>
        <Paper withBorder p="md">
          <Stack>
            <Grid>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <TextInput
                  label="Name"
                  description="Optional: a human-readable name"
                  value={form.name}
                  onChange={(e) => set({ name: e.currentTarget.value })}
                />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 3 }}>
                <NativeSelect
                  label="Job Type"
                  description="CONTINUOUS: new group members too"
                  value={form.jobType}
                  onChange={(e) => set({ jobType: e.currentTarget.value })}
                  data={JOB_TYPES}
                />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 3 }}>
                <TextInput
                  label="Job ID"
                  description="Optional: else a UUID"
                  value={form.jobId}
                  onChange={(e) => set({ jobId: e.currentTarget.value })}
                />
              </Grid.Col>
            </Grid>
            <Textarea
              label="Description"
              autosize
              minRows={2}
              value={form.description}
              onChange={(e) => set({ description: e.currentTarget.value })}
            />
            <Grid>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <TagsInput
                  label="Target Things"
                  description="Type a thing name and press Enter"
                  value={form.thingNames}
                  onChange={(value) => set({ thingNames: value })}
                  searchValue={thingSearch}
                  onSearchChange={setThingSearch}
                  data={things.data ?? []}
                  clearable
                  error={submitted && noTargets ? 'Choose at least one thing or group.' : null}
                />
              </Grid.Col>
              <Grid.Col span={{ base: 12, sm: 6 }}>
                <MultiSelect
                  label="Group"
                  description="All current members of the thing groups"
                  value={form.thingGroupNames}
                  onChange={(value) => set({ thingGroupNames: value })}
                  searchable
                  searchValue={groupSearch}
                  onSearchChange={setGroupSearch}
                  data={[...new Set([...(groups.data ?? []), ...form.thingGroupNames])]}
                  nothingFoundMessage={groups.isFetching ? 'Loading…' : 'No thing group by that name'}
                  clearable
                />
              </Grid.Col>
            </Grid>
            <JsonEditor
              id="job-document"
              label="Document"
              description="The JSON object each device receives as its job document"
              value={form.document}
              onChange={(value) => {
                set({ document: value });
                setDocumentTouched(true);
              }}
              error={documentTouched ? docError : null}
            />
          </Stack>
        </Paper>

        <Accordion variant="separated" multiple>
          <Accordion.Item value="rollout">
            <Accordion.Control>Rollout rate</Accordion.Control>
            <Accordion.Panel>
              <Stack>
                <NumberInput
                  label="Maximum per minute"
                  description="Executions created and notified per minute (empty: all at once)"
                  min={1}
                  max={1000}
                  allowDecimal={false}
                  maw={320}
                  {...num('maximumPerMinute')}
                />
                <NativeSelect
                  label="Exponential rate"
                  value={form.exponential ? 'yes' : 'no'}
                  onChange={(e) => set({ exponential: e.currentTarget.value === 'yes' })}
                  data={[
                    { value: 'no', label: 'Off' },
                    { value: 'yes', label: 'On: start slow, increase by a factor' },
                  ]}
                  maw={320}
                />
                {form.exponential && (
                  <Group wrap="wrap" align="end">
                    <NumberInput label="Base rate per minute" min={1} max={1000} allowDecimal={false} {...num('baseRatePerMinute')} />
                    <NumberInput label="Increment factor" min={1.1} max={5} decimalScale={1} step={0.1} {...num('incrementFactor')} />
                    <NativeSelect
                      label="Increase after"
                      value={form.increaseAfter}
                      onChange={(e) => set({ increaseAfter: e.currentTarget.value })}
                      data={[
                        { value: 'numberOfNotifiedThings', label: 'notified things' },
                        { value: 'numberOfSucceededThings', label: 'succeeded things' },
                      ]}
                    />
                    <NumberInput label="Number of things" min={1} allowDecimal={false} {...num('increaseAfterCount')} />
                  </Group>
                )}
              </Stack>
            </Accordion.Panel>
          </Accordion.Item>
          <Accordion.Item value="abort">
            <Accordion.Control>Abort criteria</Accordion.Control>
            <Accordion.Panel>
              <Rows
                label="abort criterion"
                addLabel="Add abort criterion"
                rows={form.abortCriteria}
                onChange={(abortCriteria) => set({ abortCriteria })}
                empty={{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 10, minNumberOfExecutedThings: 10 }}
                render={(row, update, i) => (
                  <>
                    <NativeSelect
                      label={`Failure type ${i + 1}`}
                      value={row.failureType}
                      onChange={(e) => update({ failureType: e.currentTarget.value })}
                      data={['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL']}
                    />
                    <NumberInput
                      label="Threshold %"
                      min={0}
                      max={100}
                      decimalScale={2}
                      value={row.thresholdPercentage}
                      onChange={(v) => update({ thresholdPercentage: v })}
                      w={130}
                    />
                    <NumberInput
                      label="Min. executed things"
                      min={1}
                      allowDecimal={false}
                      value={row.minNumberOfExecutedThings}
                      onChange={(v) => update({ minNumberOfExecutedThings: v })}
                      w={170}
                    />
                    <Text size="sm" mb={8}>
                      then CANCEL the job
                    </Text>
                  </>
                )}
              />
            </Accordion.Panel>
          </Accordion.Item>
          <Accordion.Item value="timeouts">
            <Accordion.Control>Timeouts</Accordion.Control>
            <Accordion.Panel>
              <NumberInput
                label="In-progress timeout (minutes)"
                description="An execution IN_PROGRESS this long becomes TIMED_OUT (1 to 10080)"
                min={1}
                max={10080}
                allowDecimal={false}
                maw={360}
                {...num('inProgressTimeoutInMinutes')}
              />
            </Accordion.Panel>
          </Accordion.Item>
          <Accordion.Item value="retries">
            <Accordion.Control>Retries</Accordion.Control>
            <Accordion.Panel>
              <Rows
                label="retry criterion"
                addLabel="Add retry criterion"
                rows={form.retryCriteria}
                onChange={(retryCriteria) => set({ retryCriteria })}
                empty={{ failureType: 'FAILED', numberOfRetries: 1 }}
                render={(row, update, i) => (
                  <>
                    <NativeSelect
                      label={`Retry on ${i + 1}`}
                      value={row.failureType}
                      onChange={(e) => update({ failureType: e.currentTarget.value })}
                      data={['FAILED', 'TIMED_OUT', 'ALL']}
                    />
                    <NumberInput
                      label="Number of retries"
                      min={0}
                      max={10}
                      allowDecimal={false}
                      value={row.numberOfRetries}
                      onChange={(v) => update({ numberOfRetries: v })}
                      w={160}
                    />
                  </>
                )}
              />
            </Accordion.Panel>
          </Accordion.Item>
          <Accordion.Item value="scheduling">
            <Accordion.Control>Scheduling</Accordion.Control>
            <Accordion.Panel>
              <Stack>
                <Group wrap="wrap" align="end">
                  <TextInput
                    type="datetime-local"
                    label="Start time (UTC)"
                    value={form.startTime}
                    onChange={(e) => set({ startTime: e.currentTarget.value })}
                  />
                  <TextInput
                    type="datetime-local"
                    label="End time (UTC)"
                    value={form.endTime}
                    onChange={(e) => set({ endTime: e.currentTarget.value })}
                  />
                  <NativeSelect
                    label="End behavior"
                    value={form.endBehavior}
                    onChange={(e) => set({ endBehavior: e.currentTarget.value })}
                    data={[{ value: '', label: '—' }, 'STOP_ROLLOUT', 'CANCEL', 'FORCE_CANCEL']}
                  />
                </Group>
                <Text size="sm" fw={500}>
                  Maintenance windows
                </Text>
                <Rows
                  label="maintenance window"
                  addLabel="Add maintenance window"
                  rows={form.maintenanceWindows}
                  onChange={(maintenanceWindows) => set({ maintenanceWindows })}
                  empty={{ startTime: '0 2 * * *', durationInMinutes: 60 }}
                  render={(row, update, i) => (
                    <>
                      <TextInput
                        label={`Window ${i + 1} start (cron)`}
                        value={row.startTime}
                        onChange={(e) => update({ startTime: e.currentTarget.value })}
                        w={220}
                      />
                      <NumberInput
                        label="Duration (minutes)"
                        min={1}
                        max={1430}
                        allowDecimal={false}
                        value={row.durationInMinutes}
                        onChange={(v) => update({ durationInMinutes: v })}
                        w={160}
                      />
                    </>
                  )}
                />
              </Stack>
            </Accordion.Panel>
          </Accordion.Item>
        </Accordion>

        {create.error && (
          <Alert color="red" title="The job was not created" role="alert">
            {create.error.message}
          </Alert>
        )}
        {submitted && docError && (
          <Alert color="red" title="Fix the document first" role="alert">
            {docError}
          </Alert>
        )}
        <Group>
          <Button type="submit" loading={create.isPending}>
            Create Job
          </Button>
          <Button variant="default" component={Link} to="/jobs">
            Cancel
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

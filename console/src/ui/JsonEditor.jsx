import { useMemo } from 'react';
import CodeMirror from '@uiw/react-codemirror';
import { json, jsonParseLinter } from '@codemirror/lang-json';
import { linter, lintGutter } from '@codemirror/lint';
import { EditorView } from '@codemirror/view';
import { Input } from '@mantine/core';

/** What is wrong with `text` as a job document, or null. */
export function documentError(text) {
  if (!text.trim()) return 'The document is required: a JSON object.';
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return `Syntax error: ${e.message}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'The document must be a JSON object ({ … }).';
  }
  return null;
}

/** A JSON editor (CodeMirror 6 with its JSON linter) as a labelled form field. */
export function JsonEditor({ id, label, value, onChange, error, description, readOnly = false, minHeight = '180px' }) {
  const extensions = useMemo(() => {
    // The editable area is the field's control: give it the field's name.
    const named = EditorView.contentAttributes.of({ 'aria-label': label });
    return readOnly ? [json(), named] : [json(), named, linter(jsonParseLinter(), { delay: 200 }), lintGutter()];
  }, [readOnly, label]);
  return (
    <Input.Wrapper id={id} label={label} error={error} description={description} withAsterisk={!readOnly}>
      <div
        style={{
          border: `1px solid ${error ? 'var(--mantine-color-error)' : 'var(--mantine-color-default-border)'}`,
          borderRadius: 'var(--mantine-radius-sm)',
          overflow: 'hidden',
        }}
      >
        <CodeMirror
          value={value}
          onChange={onChange}
          extensions={extensions}
          editable={!readOnly}
          readOnly={readOnly}
          minHeight={minHeight}
          maxHeight="480px"
          basicSetup={{ foldGutter: false, highlightActiveLine: !readOnly }}
          id={id ? `${id}-editor` : undefined}
        />
      </div>
    </Input.Wrapper>
  );
}

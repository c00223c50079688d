package engine

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"testing"
)

func testArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "mysql/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 27, Gid: 27},
		{Name: "mysql/ibdata1", Typeflag: tar.TypeReg, Mode: 0o640, Size: 3, Uid: 27, Gid: 27},
		{Name: "mysql/link", Typeflag: tar.TypeSymlink, Linkname: "ibdata1", Uid: 27, Gid: 27},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte("abc"))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// What a copy must have written is read from the archive as it streams.
func TestIndexTar(t *testing.T) {
	data := testArchive(t)
	r, ix := indexTar(bytes.NewReader(data))
	// The engine may stop reading at the archive's end-of-file blocks.
	if _, err := io.CopyN(io.Discard, r, int64(len(data)-1024)); err != nil {
		t.Fatal(err)
	}
	got := ix.finish()
	want := map[string]Entry{
		"mysql":         {Kind: 'd', owner: "27:27"},
		"mysql/ibdata1": {Kind: 'f', size: 3, owner: "27:27"},
		"mysql/link":    {Kind: 'l', owner: "27:27"},
	}
	if len(got) != len(want) {
		t.Fatalf("index %v, want %v", got, want)
	}
	for p, e := range want {
		if got[p] != e {
			t.Errorf("%s: %+v, want %+v", p, got[p], e)
		}
	}
}

// A copy that the engine dropped, cut or wrote elsewhere is found, and
// owners the engine did not keep are set right.
func TestCompareCopy(t *testing.T) {
	want := map[string]Entry{
		"mysql":         {Kind: 'd', owner: "27:27"},
		"mysql/ibdata1": {Kind: 'f', size: 3, owner: "27:27"},
		"mysql/link":    {Kind: 'l', owner: "27:27"},
	}
	stat := "27:27 4096 directory|mysql\n0:0 3 regular file|mysql/ibdata1\n27:27 7 symbolic link|./mysql/link\n"
	missing, chown := compareCopy(want, parseStat(stat))
	if len(missing) != 0 || !slices.Equal(chown["27:27"], []string{"mysql/ibdata1"}) || len(chown) != 1 {
		t.Errorf("owners dropped: missing %v, chown %v", missing, chown)
	}
	missing, _ = compareCopy(want, parseStat("27:27 4096 directory|mysql\n27:27 0 regular empty file|mysql/ibdata1\n"))
	if !slices.Equal(missing, []string{"mysql/ibdata1", "mysql/link"}) {
		t.Errorf("a cut file and a missing link: missing %v", missing)
	}
	missing, _ = compareCopy(want, parseStat(""))
	if len(missing) != 3 {
		t.Errorf("nothing written: missing %v", missing)
	}
}

// An archive read out of a container gets the owners the container has,
// whatever the engine put in its headers.
func TestWithOwners(t *testing.T) {
	var out bytes.Buffer
	owners := parseStat("999:998 4096 directory|mysql\n999:998 3 regular file|mysql/ibdata1\n")
	if err := WithOwners(&out, bytes.NewReader(testArchive(t)), owners); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want := 999
		if h.Name == "mysql/link" {
			want = 27 // not listed: left as the engine gave it
		}
		if h.Uid != want {
			t.Errorf("%s: uid %d, want %d", h.Name, h.Uid, want)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			if string(b) != "abc" {
				t.Errorf("%s: content %q", h.Name, b)
			}
		}
	}
}

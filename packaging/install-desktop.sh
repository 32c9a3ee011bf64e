#!/usr/bin/env bash
# Register the built bundle as a desktop app for the current user: launcher, icon, file types.
#
#   packaging/install-desktop.sh [BUNDLE_DIR]        # default: dist/musestudio
#   packaging/install-desktop.sh --uninstall
#
# Copies the bundle to $PREFIX/lib/musestudio (PREFIX defaults to ~/.local), links
# $PREFIX/bin/musestudio, and installs the .desktop entry, the AppStream metainfo, the icons and
# the MusicXML/.msproj MIME types under $PREFIX/share.  No root needed.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-$HOME/.local}
APP_ID=io.github.musestudio
APPS=$PREFIX/share/applications
ICONS=$PREFIX/share/icons/hicolor
MIME=$PREFIX/share/mime
META=$PREFIX/share/metainfo
LIB=$PREFIX/lib/musestudio

refresh() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
  command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$MIME" >/dev/null 2>&1 || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -rf "$LIB"
  rm -f "$PREFIX/bin/musestudio" "$APPS/$APP_ID.desktop" "$META/$APP_ID.metainfo.xml" "$MIME/packages/$APP_ID.xml"
  find "$ICONS" -name "$APP_ID.*" -delete 2>/dev/null || true
  refresh
  echo "install-desktop: removed musestudio from $PREFIX"
  exit 0
fi

BUNDLE=${1:-dist/musestudio}
[ -x "$BUNDLE/musestudio" ] || { echo "install-desktop: no bundle at $BUNDLE (run packaging/build.sh first)" >&2; exit 1; }

mkdir -p "$PREFIX/bin" "$APPS" "$ICONS" "$MIME/packages" "$META" "$(dirname "$LIB")"
rm -rf "$LIB.new"
cp -a "$BUNDLE" "$LIB.new"
rm -rf "$LIB"
mv "$LIB.new" "$LIB"
ln -sfn "$LIB/musestudio" "$PREFIX/bin/musestudio"

# The launcher runs the installed binary by absolute path, so it works without $PREFIX/bin on PATH.
sed -e "s|^Exec=.*|Exec=$LIB/musestudio %F|" -e "s|^TryExec=.*|TryExec=$LIB/musestudio|" \
  resources/desktop/$APP_ID.desktop > "$APPS/$APP_ID.desktop"
cp resources/desktop/$APP_ID.metainfo.xml "$META/"
cp resources/desktop/$APP_ID.mime.xml "$MIME/packages/$APP_ID.xml"
cp -r resources/icons/hicolor/. "$ICONS/"
refresh
echo "install-desktop: installed musestudio into $PREFIX (launcher: $APPS/$APP_ID.desktop)"

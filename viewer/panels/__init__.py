"""Dock panels of the main window. Each panel is a QDockWidget with a unique objectName, built from
the window's shared objects (document, selection, view) and added with ``MainWindow.add_panel``."""

# Device entry point: the reference board running the freezer firmware.
from crf.boards.pico import Board
from crf.app import App

App(Board()).run()
